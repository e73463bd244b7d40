// Package yubiotp checks YubiKey one-time passwords (Yubico OTP) with a
// validation service speaking the Yubico validation protocol 2.0, such as
// YubiCloud (https://api.yubico.com/wsapi/2.0/verify) or a private
// yubikey-val deployment.
//
// # The protocol, briefly
//
// An OTP is 33–48 modhex characters: the key's public id (all but the last
// 32 characters, normally 12) followed by 32 characters of token encrypted
// with the key's secret AES key, which only the validation service holds.
// The client sends
//
//	GET <server>?id=<client id>&otp=<otp>&nonce=<random>&timestamp=1&h=<signature>
//
// where h is the base64 HMAC-SHA1, under the client's API key, of the other
// parameters sorted by name and joined as k=v&k=v. The service answers HTTP
// 200 with CRLF-separated key=value lines (h, t, otp, nonce, sl, status, and
// with timestamp=1 also timestamp, sessioncounter, sessionuse), signed the
// same way. [Client.Verify] asks every configured server in parallel and
// takes the first answer that is authentic (its h verifies under the API key)
// and fresh (it echoes the OTP and nonce it was sent). status=OK means the
// OTP is genuine and has not been seen before; REPLAYED_OTP means it has.
//
// # What the caller must still do
//
// The service only says that an OTP came from some YubiKey it knows and was
// never used before; any YubiKey in the world passes. The caller must bind
// the key to the user: store the public id ([PublicID]) when the user
// enrols a key, and on every later check compare the OTP's public id with
// the ones enrolled for that user before (or after) calling Verify.
package yubiotp

import (
	"errors"
	"fmt"
	"strings"
)

// Modhex is the alphabet of OTPs: the hex digits 0–f mapped to keyboard
// keys that are in the same place on most layouts.
const Modhex = "cbdefghijklnrtuv"

const (
	tokenLen    = 32 // the encrypted part at the end of every OTP
	maxPublicID = 16 // the protocol's longest public id
	// MinLen and MaxLen bound the length of an OTP this package accepts:
	// a public id of 1–16 characters followed by the 32-character token.
	MinLen = tokenLen + 1
	MaxLen = tokenLen + maxPublicID
)

// ErrMalformedOTP is returned (wrapped, with the reason) for input that is
// not an OTP; no server is asked about it.
var ErrMalformedOTP = errors.New("yubiotp: malformed OTP")

// PublicID checks that otp has the shape of a YubiKey OTP and returns its
// public id, the part that identifies the key.
//
// Surrounding white space is trimmed (a YubiKey types a trailing Enter) and
// upper-case input is accepted (caps lock); the id returned is lower case.
// The OTP must be 33–48 modhex characters: the protocol allows a 32-character
// OTP with an empty public id, but such an OTP cannot be bound to a user, so
// it is refused. The error wraps [ErrMalformedOTP] and never quotes the input.
func PublicID(otp string) (string, error) {
	_, id, err := parse(otp)
	return id, err
}

// Looks reports whether input has the shape of a YubiKey OTP (see
// [PublicID]), for example to tell it from a six-digit TOTP code typed in
// the same field. It says nothing about whether the OTP is valid.
func Looks(input string) bool {
	_, _, err := parse(input)
	return err == nil
}

// parse returns the canonical (trimmed, lower-case) OTP and its public id.
func parse(otp string) (canonical, publicID string, err error) {
	s := strings.ToLower(strings.TrimSpace(otp))
	if n := len(s); n < MinLen || n > MaxLen {
		return "", "", fmt.Errorf("%w: %d characters, want %d–%d", ErrMalformedOTP, n, MinLen, MaxLen)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(Modhex, s[i]) < 0 {
			return "", "", fmt.Errorf("%w: character %d is not modhex (%s)", ErrMalformedOTP, i+1, Modhex)
		}
	}
	return s, s[:len(s)-tokenLen], nil
}
