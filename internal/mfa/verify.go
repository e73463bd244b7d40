package mfa

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa/backupcode"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// BackupCode names a backup code as the method of a proof.
const BackupCode = "backup-code"

// maxCodeInput bounds what is even looked at: the longest factor typed is
// a 48-character YubiKey OTP.
const maxCodeInput = 64

// Verify checks a code the person typed — a TOTP code, a YubiKey OTP or a
// backup code, told apart by their shape — against their own enrolled
// factors, and on success records the proof on their session (the step-up
// window starts now). It returns the method kind proved.
//
// Failures count towards the lockout; a locked user is refused before any
// code is checked. Every success and failure is audited.
func (s *Service) Verify(ctx context.Context, a Actor, input string) (string, error) {
	p, err := person(a)
	if err != nil {
		return "", err
	}
	method, err := s.Check(ctx, a, input)
	if err != nil {
		return "", err
	}
	return method, s.recordProof(ctx, p, method)
}

// recordProof records on the session that it proved method now (the
// step-up window starts), and drops cached credentials so that the next
// request sees it.
func (s *Service) recordProof(ctx context.Context, p *authz.Principal, method string) error {
	if err := s.st.SetSessionMFA(ctx, p.SessionID, method, s.now()); err != nil {
		return s.unavailable("record the session's proof", err)
	}
	s.changed()
	return nil
}

// succeeded clears the failures counted against the person and audits the
// proof.
func (s *Service) succeeded(ctx context.Context, a Actor, acct *store.MFAAccount, details map[string]any) {
	if acct.Failures > 0 {
		if err := s.st.ResetMFAFailures(ctx, acct.UserID); err != nil {
			s.log.Error("mfa: reset failures", "err", err)
		}
	}
	s.audit.Record(s.event(a, ActionVerify, "", details))
}

// Check is Verify without recording the proof on the session: it proves
// the factor (using it up, counting failures) and audits the attempt.
func (s *Service) Check(ctx context.Context, a Actor, input string) (string, error) {
	p, err := person(a)
	if err != nil {
		return "", err
	}
	acct, err := s.mayTry(ctx, a, p)
	if err != nil {
		return "", err
	}
	input = strings.TrimSpace(input)
	var method string
	var methodID int64
	switch {
	case strings.HasPrefix(input, BrowserPrefix):
		method = "browser"
		err = s.checkBrowser(ctx, p.SessionID, input)
	case len(input) > maxCodeInput:
		err = ErrInvalidCode
	case yubiotp.Looks(input):
		method = store.MFAYubiKey
		methodID, err = s.checkYubiKey(ctx, p.UserID, input)
	case backupcode.Looks(input):
		method = BackupCode
		err = s.checkBackupCode(ctx, a, p.UserID, input)
	default:
		method = store.MFATOTP
		methodID, err = s.checkTOTP(ctx, p.UserID, input)
	}
	details := map[string]any{"method": method}
	if methodID != 0 {
		details["method_id"] = methodID
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotOffered) {
		return "", err
	}
	if err != nil {
		details["error"] = failureName(err)
		s.denied(a, ActionVerify, string(authz.ReasonMFAFailed), http.StatusUnauthorized, details)
		s.fail(ctx, a, p.UserID)
		return "", err
	}
	s.succeeded(ctx, a, acct, details)
	return method, nil
}

func failureName(err error) string {
	switch {
	case errors.Is(err, ErrReplayed):
		return "replayed"
	case errors.Is(err, ErrNotEnrolled):
		return "not_enrolled"
	}
	return "invalid"
}

// mayTry refuses an attempt from a spent address or by a locked person,
// and returns the person's account.
func (s *Service) mayTry(ctx context.Context, a Actor, p *authz.Principal) (*store.MFAAccount, error) {
	if s.limited(a) {
		return nil, ErrRateLimited
	}
	acct, err := s.account(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if !acct.LockedAt.IsZero() {
		s.denied(a, ActionVerify, string(authz.ReasonMFALocked), http.StatusForbidden, map[string]any{"locked": true})
		return nil, ErrLocked
	}
	return acct, nil
}

// limited reports whether the caller's address has spent its failures.
func (s *Service) limited(a Actor) bool {
	if s.cfg.IPLimit == nil {
		return false
	}
	_, blocked := s.cfg.IPLimit.Blocked(a.SourceIP)
	return blocked
}

// fail counts a failed attempt against the user (locking them at the
// limit) and against the caller's address.
func (s *Service) fail(ctx context.Context, a Actor, userID int64) {
	if s.cfg.IPLimit != nil {
		s.cfg.IPLimit.Failed(a.SourceIP)
	}
	acct, err := s.st.RecordMFAFailure(ctx, userID, s.cfg.LockAfter)
	if err != nil {
		s.log.Error("mfa: count a failure", "err", err)
		return
	}
	if !acct.LockedAt.IsZero() && acct.Failures == s.cfg.LockAfter {
		s.denied(a, ActionLocked, string(authz.ReasonMFALocked), http.StatusForbidden, map[string]any{"failures": acct.Failures})
		user := ""
		if a.Principal != nil {
			user = a.Principal.Email
		}
		s.tell(ctx, "mfa.locked", user, [2]string{"Failed attempts", strconv.Itoa(acct.Failures)}, [2]string{"From", a.SourceIP})
	}
}

// account returns the user's MFA account, creating it if needed.
func (s *Service) account(ctx context.Context, userID int64) (*store.MFAAccount, error) {
	acct, err := s.st.GetMFAAccount(ctx, userID, newHandle())
	if err != nil {
		return nil, s.unavailable("read the account", err)
	}
	return acct, nil
}

// checkTOTP tries the code against each of the user's TOTP methods; the
// database accepts each time step once (UseMFAMethod), so a code seen
// before — here or by another replica — is refused.
func (s *Service) checkTOTP(ctx context.Context, userID int64, code string) (int64, error) {
	if s.cfg.Keys == nil {
		return 0, ErrNotOffered
	}
	ms, err := s.methods(ctx, userID, store.MFATOTP)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, ErrNotEnrolled
	}
	now := s.now()
	for _, m := range ms {
		secret, err := s.openSecret(&m)
		if err != nil {
			s.log.Error("mfa: open a TOTP secret", "method_id", m.ID, "err", err)
			continue
		}
		step, ok := totp.Validate(string(secret), code, now)
		if !ok {
			continue
		}
		if step <= m.LastStep {
			return m.ID, ErrReplayed
		}
		switch err := s.st.UseMFAMethod(ctx, m.ID, step, nil); {
		case errors.Is(err, store.ErrConflict):
			return m.ID, ErrReplayed
		case err != nil:
			return m.ID, s.unavailable("use a TOTP method", err)
		}
		s.reseal(ctx, &m, secret)
		return m.ID, nil
	}
	return 0, ErrInvalidCode
}

// checkYubiKey checks that the OTP's key is one of the user's and that the
// validation service says the OTP is genuine and fresh.
func (s *Service) checkYubiKey(ctx context.Context, userID int64, otp string) (int64, error) {
	if s.cfg.YubiKey == nil {
		return 0, ErrNotOffered
	}
	id, err := yubiotp.PublicID(otp)
	if err != nil {
		return 0, ErrInvalidCode
	}
	ms, err := s.methods(ctx, userID, store.MFAYubiKey)
	if err != nil {
		return 0, err
	}
	var m *store.MFAMethod
	for i := range ms {
		if ms[i].PublicID == id {
			m = &ms[i]
		}
	}
	if m == nil {
		return 0, ErrInvalidCode // not this user's key (maybe another's)
	}
	if _, err := s.cfg.YubiKey.Verify(ctx, otp); err != nil {
		switch {
		case errors.Is(err, yubiotp.ErrReplayed):
			return m.ID, ErrReplayed
		case errors.Is(err, yubiotp.ErrBadOTP), errors.Is(err, yubiotp.ErrMalformedOTP):
			return m.ID, ErrInvalidCode
		}
		s.log.Error("mfa: YubiKey validation", "err", err)
		return m.ID, ErrUnavailable
	}
	if err := s.st.UseMFAMethod(ctx, m.ID, 0, nil); err != nil {
		return m.ID, s.unavailable("use a YubiKey", err)
	}
	return m.ID, nil
}

// checkBackupCode uses up one of the user's backup codes.
func (s *Service) checkBackupCode(ctx context.Context, a Actor, userID int64, input string) error {
	code, ok := backupcode.Canonical(input)
	if !ok {
		return ErrInvalidCode
	}
	switch err := s.st.UseBackupCode(ctx, userID, backupcode.Hash(code)); {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidCode
	case err != nil:
		return s.unavailable("use a backup code", err)
	}
	left, err := s.st.CountBackupCodes(ctx, userID)
	if err != nil {
		left = -1
	}
	s.audit.Record(s.event(a, ActionBackupCodeUsed, "", map[string]any{"remaining": left}))
	return nil
}

func (s *Service) methods(ctx context.Context, userID int64, kind string) ([]store.MFAMethod, error) {
	all, err := s.st.ListMFAMethods(ctx, userID)
	if err != nil {
		return nil, s.unavailable("list methods", err)
	}
	out := all[:0]
	for _, m := range all {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out, nil
}

// secretAAD binds a sealed TOTP secret to its user: a sealed secret
// copied to another user's row does not open.
func secretAAD(userID int64) []byte {
	return []byte("rack-gateway totp secret, user " + itoa(userID))
}

func (s *Service) openSecret(m *store.MFAMethod) ([]byte, error) {
	return s.cfg.Keys.Open(m.SecretKeyID, m.Secret, secretAAD(m.UserID))
}

// reseal re-encrypts a secret sealed with a key that is no longer the
// primary, so that the old key can be retired (key rotation).
func (s *Service) reseal(ctx context.Context, m *store.MFAMethod, secret []byte) {
	if !s.cfg.Keys.NeedsReseal(m.SecretKeyID) {
		return
	}
	id, sealed, err := s.cfg.Keys.Seal(secret, secretAAD(m.UserID))
	if err == nil {
		err = s.st.ResealMFASecret(ctx, m.ID, id, sealed)
	}
	if err != nil {
		s.log.Error("mfa: reseal a TOTP secret", "method_id", m.ID, "err", err)
	}
}

// Reseal re-encrypts every TOTP secret not sealed with the primary key
// and returns how many (`rack-gateway mfa-keys reseal` after a rotation).
func Reseal(ctx context.Context, st store.MFAMethods, keys *seal.Keyring) (int, error) {
	ms, err := st.ListMFAMethods(ctx, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.Kind != store.MFATOTP || !keys.NeedsReseal(m.SecretKeyID) {
			continue
		}
		secret, err := keys.Open(m.SecretKeyID, m.Secret, secretAAD(m.UserID))
		if err != nil {
			return n, err
		}
		id, sealed, err := keys.Seal(secret, secretAAD(m.UserID))
		if err != nil {
			return n, err
		}
		if err := st.ResealMFASecret(ctx, m.ID, id, sealed); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
