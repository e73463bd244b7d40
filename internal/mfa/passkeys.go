package mfa

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Challenge purposes of the WebAuthn ceremonies.
const (
	purposePasskeyRegister = "webauthn-register"
	purposePasskeyLogin    = "webauthn-login"
)

// ceremonyHash names the one pending ceremony of a purpose per session:
// beginning another replaces it, and only the session that began it can
// finish it.
func ceremonyHash(sessionID int64, purpose string) []byte {
	h := sha256.Sum256([]byte("rack-gateway webauthn ceremony\x00" + purpose + "\x00" + itoa(sessionID)))
	return h[:]
}

// passkeyUser is the user as the WebAuthn library sees them: their handle
// and registered credentials.
func (s *Service) passkeyUser(ctx context.Context, p *authz.Principal) (passkey.User, []store.MFAMethod, error) {
	acct, err := s.account(ctx, p.UserID)
	if err != nil {
		return passkey.User{}, nil, err
	}
	ms, err := s.methods(ctx, p.UserID, store.MFAWebAuthn)
	if err != nil {
		return passkey.User{}, nil, err
	}
	u := passkey.User{ID: acct.Handle, Name: p.Email}
	for _, m := range ms {
		c, err := passkey.UnmarshalCredential(m.Credential)
		if err != nil {
			s.log.Error("mfa: a stored passkey does not parse", "method_id", m.ID, "err", err)
			continue
		}
		u.Credentials = append(u.Credentials, c)
	}
	return u, ms, nil
}

// hold stores a ceremony's state, server-side and bound to the session.
func (s *Service) hold(ctx context.Context, p *authz.Principal, purpose string, state []byte) error {
	hash := ceremonyHash(p.SessionID, purpose)
	_, _ = s.st.TakeMFAChallenge(ctx, hash, p.SessionID, purpose) // a newer ceremony replaces the pending one
	c := &store.MFAChallenge{Hash: hash, SessionID: p.SessionID, Purpose: purpose, State: state,
		ExpiresAt: s.now().Add(s.cfg.ChallengeTTL)}
	if err := s.st.PutMFAChallenge(ctx, c); err != nil {
		return s.unavailable("hold a WebAuthn challenge", err)
	}
	return nil
}

// take uses up the session's pending ceremony of a purpose.
func (s *Service) take(ctx context.Context, p *authz.Principal, purpose string) ([]byte, error) {
	c, err := s.st.TakeMFAChallenge(ctx, ceremonyHash(p.SessionID, purpose), p.SessionID, purpose)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrExpired
	} else if err != nil {
		return nil, s.unavailable("take a WebAuthn challenge", err)
	}
	return c.State, nil
}

// BeginPasskeyRegistration starts registering a passkey or security key
// and returns the options for navigator.credentials.create.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, a Actor) ([]byte, error) {
	if s.cfg.Passkeys == nil {
		return nil, ErrNotOffered
	}
	p, _, err := s.mayEnrol(ctx, a)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, err
	}
	opts, state, err := s.cfg.Passkeys.BeginRegistration(u)
	if err != nil {
		return nil, err
	}
	return opts, s.hold(ctx, p, purposePasskeyRegister, state)
}

// FinishPasskeyRegistration checks the authenticator's answer and enrols
// the credential.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, a Actor, name string, credentialJSON []byte) (*Enrolled, error) {
	if s.cfg.Passkeys == nil {
		return nil, ErrNotOffered
	}
	p, first, err := s.mayEnrol(ctx, a)
	if err != nil {
		return nil, err
	}
	name, err = cleanName(name, "passkey")
	if err != nil {
		return nil, err
	}
	state, err := s.take(ctx, p, purposePasskeyRegister)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, err
	}
	cred, err := s.cfg.Passkeys.FinishRegistration(u, state, credentialJSON)
	if err != nil {
		s.log.Info("mfa: passkey registration refused", "err", err)
		r := passkeyRefusal(err)
		s.denied(a, ActionEnrol, string(authz.ReasonMFAFailed), http.StatusUnauthorized, map[string]any{"method": store.MFAWebAuthn, "error": r.Code})
		return nil, r
	}
	blob, err := cred.Marshal()
	if err != nil {
		return nil, err
	}
	return s.enrol(ctx, a, p, first, store.MFAMethod{UserID: p.UserID, Kind: store.MFAWebAuthn, Name: name,
		CredentialID: cred.ID, Credential: blob})
}

// BeginPasskeyLogin starts an assertion with one of the user's passkeys
// and returns the options for navigator.credentials.get.
func (s *Service) BeginPasskeyLogin(ctx context.Context, a Actor) ([]byte, error) {
	if s.cfg.Passkeys == nil {
		return nil, ErrNotOffered
	}
	p, err := person(a)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(u.Credentials) == 0 {
		return nil, ErrNotEnrolled
	}
	opts, state, err := s.cfg.Passkeys.BeginLogin(u)
	if err != nil {
		return nil, err
	}
	return opts, s.hold(ctx, p, purposePasskeyLogin, state)
}

// FinishPasskeyLogin checks an assertion against the session's pending
// challenge and, if it proves a factor, records the proof on the session
// as Verify does. Failures count towards the lockout.
func (s *Service) FinishPasskeyLogin(ctx context.Context, a Actor, credentialJSON []byte) (string, error) {
	if s.cfg.Passkeys == nil {
		return "", ErrNotOffered
	}
	p, err := person(a)
	if err != nil {
		return "", err
	}
	acct, err := s.mayTry(ctx, a, p)
	if err != nil {
		return "", err
	}
	state, err := s.take(ctx, p, purposePasskeyLogin)
	if err != nil {
		return "", err
	}
	u, ms, err := s.passkeyUser(ctx, p)
	if err != nil {
		return "", err
	}
	cred, err := s.cfg.Passkeys.FinishLogin(u, state, credentialJSON)
	if err != nil {
		s.log.Info("mfa: passkey assertion refused", "err", err)
		r := passkeyRefusal(err)
		s.denied(a, ActionVerify, string(authz.ReasonMFAFailed), http.StatusUnauthorized, map[string]any{"method": store.MFAWebAuthn, "error": r.Code})
		s.fail(ctx, a, p.UserID)
		return "", r
	}
	var id int64
	for _, m := range ms {
		if string(m.CredentialID) == string(cred.ID) {
			id = m.ID
		}
	}
	blob, err := cred.Marshal()
	if err != nil {
		return "", err
	}
	if err := s.st.UseMFAMethod(ctx, id, 0, blob); err != nil { // the new sign counter
		return "", s.unavailable("use a passkey", err)
	}
	s.succeeded(ctx, a, acct, map[string]any{"method": store.MFAWebAuthn, "method_id": id})
	return store.MFAWebAuthn, s.recordProof(ctx, p, store.MFAWebAuthn)
}
