// Package totp implements time-based one-time passwords (RFC 6238) the way
// authenticator apps expect them: HMAC-SHA1, 6 digits, a 30-second period.
//
// The HOTP arithmetic is github.com/pquerna/otp's; this package fixes the
// parameters, generates keys and their QR codes, and validates codes with a
// ±1 step skew, returning the matched time step so that the caller can refuse
// replays (see Validate).
package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"
)

// Fixed parameters. Authenticator apps widely ignore anything but these, so
// they are not configurable.
const (
	// Period is the length of a time step in seconds.
	Period = 30
	// Digits is the length of a code.
	Digits = 6
	// SecretSize is the size in bytes of generated secrets (160 bits, the
	// HMAC-SHA1 output size RFC 4226 recommends).
	SecretSize = 20
	// Skew is how many steps before and after the current one are accepted,
	// to allow for clock drift and the time a user takes to type.
	Skew = 1

	// minSecretSize is RFC 4226's minimum secret length (128 bits). It keeps a
	// corrupt or empty stored secret from validating easily computed codes.
	minSecretSize = 16
	// maxPNGSize bounds PNG's allocation (size² pixels).
	maxPNGSize = 2048
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrBadSecret reports a secret that is not base32 or is too short.
var ErrBadSecret = errors.New("totp: secret is not base32 of at least 128 bits")

// Key is a TOTP key to enrol in an authenticator app.
type Key struct {
	// Secret is the shared secret in base32 without padding. Store it
	// sealed: it must be recovered to validate codes.
	Secret string
	// URL is the otpauth://totp/ URL the QR code encodes.
	URL string
}

// Generate returns a key with a new random 160-bit secret. The issuer and
// account name the key in the authenticator app; neither may be empty or
// contain a colon (the label separator of the otpauth URL).
func Generate(issuer, account string) (*Key, error) {
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return newKey(issuer, account, secret)
}

// NewKey returns the key for an existing secret (as in Key.Secret), for
// showing the QR code again before enrolment is confirmed.
func NewKey(issuer, account, secret string) (*Key, error) {
	raw, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	return newKey(issuer, account, raw)
}

func newKey(issuer, account string, secret []byte) (*Key, error) {
	if issuer == "" || account == "" {
		return nil, errors.New("totp: issuer and account must not be empty")
	}
	// Key URI format: "Neither issuer nor account name may themselves
	// contain a colon"; apps would split the label in the wrong place.
	if strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return nil, errors.New("totp: issuer and account must not contain a colon")
	}
	k, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      Period,
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return &Key{Secret: k.Secret(), URL: k.URL()}, nil
}

// PNG returns the QR code of k.URL as a size×size PNG image, for rendering
// on the server (an <img> with a data: URL needs no JavaScript). size must be
// large enough for the code's modules (about 200 suffices) and at most 2048.
func (k *Key) PNG(size int) ([]byte, error) {
	if size <= 0 || size > maxPNGSize {
		return nil, fmt.Errorf("totp: PNG size %d out of range 1..%d", size, maxPNGSize)
	}
	ok, err := otp.NewKeyFromURL(k.URL)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	img, err := ok.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// Step returns the RFC 6238 time step of t: floor(unix seconds / 30).
func Step(t time.Time) int64 {
	s := t.Unix()
	q := s / Period
	if s%Period < 0 { // round toward −∞ before 1970, as floor does
		q--
	}
	return q
}

// Code returns the code for the time step containing t. It is meant for
// tests and for fake authenticators in the tests of other packages.
func Code(secret string, t time.Time) (string, error) {
	canon, err := canonicalSecret(secret)
	if err != nil {
		return "", err
	}
	step := Step(t)
	if step < 0 {
		return "", errors.New("totp: time before 1970")
	}
	return hotpCode(canon, step)
}

// Validate reports whether code is the code for the step of now, or the step
// before or after it, and returns the matching step.
//
// The caller must remember the last accepted step per user and method and
// refuse a code whose step is at or before it: a code stays valid for up to
// three steps, and accepting it twice would let an observer replay it. After
// success, store the returned step as the new last accepted step.
//
// code must be exactly 6 ASCII digits, optionally surrounded by white space;
// anything else is refused without computing a code. An invalid secret is
// refused too (ok false).
func Validate(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if !sixDigits(code) {
		return 0, false
	}
	canon, err := canonicalSecret(secret)
	if err != nil {
		return 0, false
	}
	cur := Step(now)
	// Check every candidate and select the match without branching on it,
	// so the timing does not tell which step (if any) matched.
	var matched, found int
	for d := -Skew; d <= Skew; d++ {
		s := cur + int64(d)
		if s < 0 {
			continue // only before 1970; not a secret-dependent branch
		}
		want, err := hotpCode(canon, s)
		if err != nil {
			return 0, false
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		// Keep the first match: the codes of two steps are equal only by
		// chance, and the earlier step is the conservative one for replay.
		take := eq & (1 - found)
		matched = subtle.ConstantTimeSelect(take, d, matched)
		found |= eq
	}
	if found == 0 {
		return 0, false
	}
	return cur + int64(matched), true
}

// hotpCode returns the 6-digit HOTP value of canon (canonical base32) at step.
func hotpCode(canon string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(canon, uint64(step), hotp.ValidateOpts{
		Digits:    otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1,
	})
}

func sixDigits(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decodeSecret decodes a base32 secret, tolerating lower case, padding and
// surrounding white space (as authenticator apps do), and enforces the
// minimum length.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.TrimSpace(secret), "="))
	raw, err := b32.DecodeString(s)
	if err != nil || len(raw) < minSecretSize {
		return nil, ErrBadSecret
	}
	return raw, nil
}

// canonicalSecret returns secret as upper-case unpadded base32 after checking
// it, so that pquerna/otp never sees a secret this package would refuse.
func canonicalSecret(secret string) (string, error) {
	raw, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return b32.EncodeToString(raw), nil
}
