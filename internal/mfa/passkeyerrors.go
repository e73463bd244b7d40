package mfa

import (
	"errors"

	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
)

// PasskeyRefused is a passkey that did not prove a factor, with why: a
// short code for the audit log and a sentence a person can act on. It is
// ErrInvalidCode to errors.Is, so it is answered (and counted towards the
// lockout) as any wrong code.
type PasskeyRefused struct {
	// Code is the audit detail: unknown_credential, other_user, origin,
	// challenge, cloned, already_registered, malformed or invalid.
	Code string
	msg  string
}

func (e *PasskeyRefused) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrInvalidCode) hold.
func (e *PasskeyRefused) Unwrap() error { return ErrInvalidCode }

// passkeyRefusal explains why the passkey library refused an answer.
func passkeyRefusal(err error) *PasskeyRefused {
	for _, c := range []struct {
		sentinel error
		code     string
		msg      string
	}{
		{passkey.ErrCloned, "cloned", "this authenticator's signature counter went backwards, a sign it may have been copied, so it was refused; use another factor and tell a gateway admin"},
		{passkey.ErrUnknownCredential, "unknown_credential", "that passkey is not registered to your account; use one listed on your account page, or type a code"},
		{passkey.ErrUserMismatch, "other_user", "that passkey belongs to another account"},
		{passkey.ErrOrigin, "origin", "the passkey was used from an address this gateway does not accept (see mfa.webauthn_origins); open the gateway at its public address"},
		{passkey.ErrAlreadyRegistered, "already_registered", "this passkey or security key is already registered to your account"},
		{passkey.ErrChallenge, "challenge", "the passkey answered an earlier request; try again"},
		{passkey.ErrExpired, "challenge", "the passkey request expired; try again"},
		{passkey.ErrInvalidState, "challenge", "the passkey request expired; try again"},
		{passkey.ErrMalformed, "malformed", "the browser's passkey answer could not be read; try again"},
	} {
		if errors.Is(err, c.sentinel) {
			return &PasskeyRefused{Code: c.code, msg: c.msg}
		}
	}
	return &PasskeyRefused{Code: "invalid", msg: "the passkey's signature did not verify; try again, or type a code"}
}
