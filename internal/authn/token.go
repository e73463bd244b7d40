// Package authn turns the credential on a request into an authz.Principal:
// API tokens sent as the HTTP Basic password (how the convox CLI sends
// RACK_URL's userinfo) or as a Bearer token.
package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// TokenPrefix starts every API token so it is recognisable in logs, secret
// scanners and config files.
const TokenPrefix = "rgw_"

// tokenBytes is the entropy of a token.
const tokenBytes = 32

// NewToken returns a fresh random token and its SHA-256 hash. The token is
// shown once; only the hash is stored.
func NewToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// DisplayPrefix is the part of a token safe to show in lists.
func DisplayPrefix(token string) string {
	if len(token) < len(TokenPrefix)+6 {
		return TokenPrefix
	}
	return token[:len(TokenPrefix)+6]
}

// ErrNoCredentials means the request carried no credential at all.
var ErrNoCredentials = errors.New("no credentials")

// Credential extracts the secret from an Authorization header value: the
// password of Basic auth (any username, as the convox CLI sends
// "convox:<token>") or a Bearer token.
func Credential(authorization string) (string, error) {
	if authorization == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, ok := strings.Cut(authorization, " ")
	if !ok {
		return "", errors.New("malformed Authorization header")
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest = strings.TrimSpace(rest); rest == "" {
			return "", ErrNoCredentials
		}
		return rest, nil
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return "", errors.New("malformed Basic credentials")
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		if !ok || pass == "" {
			return "", ErrNoCredentials
		}
		return pass, nil
	}
	return "", errors.New("unsupported Authorization scheme")
}

// FollowRole, as a token's only permission, means the token grants whatever
// its owner's current role grants (still capped by that role, as always).
const FollowRole = "*"
