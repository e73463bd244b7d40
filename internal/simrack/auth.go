package simrack

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Roles as the rack spells them; checks use strings.Contains like the rack.
const (
	roleRead      = "r"
	roleReadWrite = "rw"
	roleAdmin     = "rwa"
)

// maxJWTHours is the rack's limit on minted token lifetimes.
const maxJWTHours = 8760

// identity is the outcome of authenticating a request.
type identity struct {
	role string
	user string
	jwt  bool
	// err is the 401 to answer with, nil when the credentials are valid.
	err error
	// basicRealm asks for `WWW-Authenticate: Basic realm="convox"` (the
	// rack sets it only on password failures, not on bad JWTs).
	basicRealm bool
}

// authenticate mirrors pkg/api.authenticate: HTTP Basic only; username
// "jwt" means the password is a rack JWT, any other username is ignored and
// the password must equal the rack password (constant-time), granting admin.
func (r *Rack) authenticate(req *http.Request) identity {
	username, pass, _ := req.BasicAuth()
	if username == "jwt" {
		claims, err := r.keys.verify(pass)
		if err != nil {
			return identity{err: errorf(http.StatusUnauthorized, "invalid authentication: %s", err)}
		}
		return identity{role: claims.Role, user: claims.User, jwt: true}
	}
	if r.cfg.Password != "" && subtle.ConstantTimeCompare([]byte(r.cfg.Password), []byte(pass)) != 1 {
		return identity{err: errorf(http.StatusUnauthorized, "invalid authentication"), basicRealm: true}
	}
	return identity{role: roleAdmin, user: "rack-password"}
}

// jwtKeys holds the rack's HS256 signing key. Rotation replaces it, which
// invalidates every outstanding token at once (on a real rack this happens
// when the api pods restart).
type jwtKeys struct {
	mu  sync.RWMutex
	key []byte
}

func newJWTKeys() *jwtKeys {
	k := &jwtKeys{}
	k.rotate()
	return k
}

// rotate installs a fresh random key. Like the k8s provider, the key bytes
// are the base64 text of the secret.
func (k *jwtKeys) rotate() {
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	key := []byte(base64.StdEncoding.EncodeToString(secret[:]))
	k.mu.Lock()
	k.key = key
	k.mu.Unlock()
}

func (k *jwtKeys) current() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.key
}

// jwtClaims are the rack's custom claims; there is no exp/iat/jti.
type jwtClaims struct {
	User      string
	Role      string
	ExpiresAt time.Time
}

var b64url = base64.RawURLEncoding

// mint returns a signed HS256 token with the rack's claim layout.
func (k *jwtKeys) mint(user, role string, ttl time.Duration) (string, error) {
	header := b64url.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(map[string]any{
		"user":      user,
		"role":      role,
		"expiresAt": time.Now().UTC().Add(ttl).Unix(),
	})
	if err != nil {
		return "", err
	}
	signing := header + "." + b64url.EncodeToString(body)
	mac := hmac.New(sha256.New, k.current())
	mac.Write([]byte(signing))
	return signing + "." + b64url.EncodeToString(mac.Sum(nil)), nil
}

// verify checks a token like pkg/jwt.Verify (golang-jwt with an HMAC key
// plus explicit claim checks); error texts follow those libraries.
func (k *jwtKeys) verify(token string) (*jwtClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("token contains an invalid number of segments")
	}
	hdrJSON, err := b64url.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return nil, err
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, err
	}
	var hf func() hash.Hash
	switch hdr.Alg {
	case "HS256":
		hf = sha256.New
	case "HS384":
		hf = sha512.New384
	case "HS512":
		hf = sha512.New
	default:
		return nil, fmt.Errorf("unexpected signing method: %v", hdr.Alg)
	}
	sig, err := b64url.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return nil, err
	}
	mac := hmac.New(hf, k.current())
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("signature is invalid")
	}
	body, err := b64url.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, err
	}
	now := float64(time.Now().Unix())
	// golang-jwt's MapClaims.Valid checks the registered claims if present.
	if exp, ok := claims["exp"].(float64); ok && now > exp {
		//lint:ignore ST1005 the rack returns golang-jwt's exact text
		return nil, errors.New("Token is expired")
	}
	if nbf, ok := claims["nbf"].(float64); ok && now < nbf {
		//lint:ignore ST1005 the rack returns golang-jwt's exact text
		return nil, errors.New("Token is not valid yet")
	}
	user, ok := claims["user"].(string)
	if !ok {
		return nil, errors.New("invalid token: user claim missing or wrong type")
	}
	role, ok := claims["role"].(string)
	if !ok {
		return nil, errors.New("invalid token: role claim missing or wrong type")
	}
	expiresAt, ok := claims["expiresAt"].(float64)
	if !ok {
		return nil, errors.New("invalid token: expiresAt claim missing or wrong type")
	}
	c := &jwtClaims{User: user, Role: role, ExpiresAt: time.Unix(int64(expiresAt), 0)}
	if c.ExpiresAt.Before(time.Now()) {
		return nil, errors.New("token is expired")
	}
	return c, nil
}

// systemJwtToken is POST /system/jwt/token: mints read, write or (for admin
// callers only) admin tokens valid 1..8760 hours.
func (r *Rack) systemJwtToken(c *ctx) error {
	role := c.Value("role")
	hours, err := strconv.Atoi(c.Value("durationInHour"))
	if err != nil {
		return badRequest("invalid duration")
	}
	if hours < 1 || hours > maxJWTHours {
		return badRequest("duration must be between 1 and %d hours", maxJWTHours)
	}
	var user, claimRole string
	switch role {
	case "read":
		user, claimRole = "system-read", roleRead
	case "write":
		user, claimRole = "system-write", roleReadWrite
	case "admin":
		if !c.canAdmin() {
			return errorf(http.StatusForbidden, "admin role required to mint admin tokens")
		}
		user, claimRole = "system-admin", roleAdmin
	default:
		return badRequest("invalid role: must be read, write, or admin")
	}
	tk, err := r.keys.mint(user, claimRole, time.Duration(hours)*time.Hour)
	if err != nil {
		return err
	}
	return c.renderJSON(map[string]string{"token": tk})
}

// systemJwtRotate is PUT /system/jwt/rotate (admin only).
func (r *Rack) systemJwtRotate(c *ctx) error {
	if !c.canAdmin() {
		return errorf(http.StatusForbidden, "admin role required")
	}
	r.keys.rotate()
	return c.renderOK()
}
