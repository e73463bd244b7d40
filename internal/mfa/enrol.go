package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa/backupcode"
	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// BackupCodeCount is how many backup codes a user gets at a time.
const BackupCodeCount = 10

// Challenge purposes (store.MFAChallenge.Purpose).
const (
	purposeTOTPEnrol = "totp-enrol"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newHandle is a fresh random WebAuthn user handle.
func newHandle() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// newID returns a random challenge id and its SHA-256 (what is stored).
func newID() (string, []byte) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	return id, hashID(id)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// mayEnrol checks that the actor may add a factor: a first factor needs
// only the session (there is nothing to step up with); a further one is
// managing one's factors, which needs a recent second factor.
func (s *Service) mayEnrol(ctx context.Context, a Actor) (*authz.Principal, bool, error) {
	p, err := person(a)
	if err != nil {
		return nil, false, err
	}
	ms, err := s.st.ListMFAMethods(ctx, p.UserID)
	if err != nil {
		return nil, false, s.unavailable("list methods", err)
	}
	if len(ms) == 0 {
		return p, true, nil
	}
	return p, false, s.authorize(a, authz.MFASelf)
}

// cleanName checks a method's label.
func cleanName(name, fallback string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return fallback, nil
	}
	if len(name) > 64 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", &Invalid{Msg: "a name must be at most 64 printable characters"}
	}
	return name, nil
}

// PendingTOTP is an enrolment waiting for its first code: the secret is
// held server-side (sealed, bound to the session) until confirmed.
type PendingTOTP struct {
	ID     string // the challenge id the confirmation names
	Secret string // base32, for typing into an app
	URL    string // otpauth:// URL, what the QR code encodes
}

type totpState struct {
	KeyID  string `json:"k"`
	Sealed []byte `json:"s"`
}

// BeginTOTP starts a TOTP enrolment.
func (s *Service) BeginTOTP(ctx context.Context, a Actor) (*PendingTOTP, error) {
	if s.cfg.Keys == nil {
		return nil, ErrNotOffered
	}
	p, _, err := s.mayEnrol(ctx, a)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(s.cfg.Issuer, p.Email)
	if err != nil {
		return nil, err
	}
	keyID, sealed, err := s.cfg.Keys.Seal([]byte(key.Secret), secretAAD(p.UserID))
	if err != nil {
		return nil, err
	}
	state, _ := json.Marshal(totpState{KeyID: keyID, Sealed: sealed})
	id, hash := newID()
	c := &store.MFAChallenge{Hash: hash, SessionID: p.SessionID, Purpose: purposeTOTPEnrol, State: state,
		ExpiresAt: s.now().Add(s.cfg.ChallengeTTL)}
	if err := s.st.PutMFAChallenge(ctx, c); err != nil {
		return nil, s.unavailable("hold a TOTP enrolment", err)
	}
	return &PendingTOTP{ID: id, Secret: key.Secret, URL: key.URL}, nil
}

// PendingTOTPKey re-reads a pending enrolment (to draw its QR code again)
// without using it up.
func (s *Service) PendingTOTPKey(ctx context.Context, a Actor, id string) (*totp.Key, error) {
	p, err := person(a)
	if err != nil {
		return nil, err
	}
	secret, _, err := s.pendingSecret(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return totp.NewKey(s.cfg.Issuer, p.Email, string(secret))
}

// pendingSecret opens the secret of the session's pending TOTP enrolment.
func (s *Service) pendingSecret(ctx context.Context, p *authz.Principal, id string) ([]byte, *store.MFAChallenge, error) {
	c, err := s.st.PeekMFAChallenge(ctx, hashID(id))
	if err != nil || c.SessionID != p.SessionID || c.Purpose != purposeTOTPEnrol {
		return nil, nil, ErrExpired
	}
	var st totpState
	if err := json.Unmarshal(c.State, &st); err != nil {
		return nil, nil, ErrExpired
	}
	secret, err := s.cfg.Keys.Open(st.KeyID, st.Sealed, secretAAD(p.UserID))
	if err != nil {
		return nil, nil, ErrExpired
	}
	return secret, c, nil
}

// Enrolled is the result of an enrolment.
type Enrolled struct {
	Method store.MFAMethod
	// BackupCodes are shown once: set on a user's first enrolment.
	BackupCodes []string
}

// ConfirmTOTP finishes a TOTP enrolment with the first code from the app.
// A wrong code leaves the enrolment pending (until it expires), so the
// user can try again.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, id, code, name string) (*Enrolled, error) {
	p, first, err := s.mayEnrol(ctx, a)
	if err != nil {
		return nil, err
	}
	name, err = cleanName(name, "authenticator app")
	if err != nil {
		return nil, err
	}
	secret, c, err := s.pendingSecret(ctx, p, id)
	if err != nil {
		return nil, err
	}
	step, ok := totp.Validate(string(secret), code, s.now())
	if !ok {
		s.denied(a, ActionEnrol, string(authz.ReasonMFAFailed), 401, map[string]any{"method": store.MFATOTP, "error": "invalid"})
		return nil, ErrInvalidCode
	}
	if _, err := s.st.TakeMFAChallenge(ctx, c.Hash, p.SessionID, purposeTOTPEnrol); err != nil {
		return nil, ErrExpired // confirmed twice at once: one wins
	}
	keyID, sealed, err := s.cfg.Keys.Seal(secret, secretAAD(p.UserID))
	if err != nil {
		return nil, err
	}
	m := store.MFAMethod{UserID: p.UserID, Kind: store.MFATOTP, Name: name, SecretKeyID: keyID, Secret: sealed,
		LastStep: step} // the confirming code is used up
	return s.enrol(ctx, a, p, first, m)
}

// EnrolYubiKey binds the key that produced otp to the user, after the
// validation service confirms the OTP is genuine and fresh.
func (s *Service) EnrolYubiKey(ctx context.Context, a Actor, otp, name string) (*Enrolled, error) {
	if s.cfg.YubiKey == nil {
		return nil, ErrNotOffered
	}
	p, first, err := s.mayEnrol(ctx, a)
	if err != nil {
		return nil, err
	}
	name, err = cleanName(name, "YubiKey")
	if err != nil {
		return nil, err
	}
	id, err := yubiotp.PublicID(otp)
	if err != nil {
		return nil, &Invalid{Msg: "that is not a YubiKey OTP: touch the key with the cursor in the field"}
	}
	if _, err := s.cfg.YubiKey.Verify(ctx, otp); err != nil {
		switch {
		case errors.Is(err, yubiotp.ErrReplayed):
			return nil, ErrReplayed
		case errors.Is(err, yubiotp.ErrBadOTP), errors.Is(err, yubiotp.ErrMalformedOTP):
			s.denied(a, ActionEnrol, string(authz.ReasonMFAFailed), 401, map[string]any{"method": store.MFAYubiKey, "error": "invalid"})
			return nil, ErrInvalidCode
		}
		s.log.Error("mfa: YubiKey validation", "err", err)
		return nil, ErrUnavailable
	}
	return s.enrol(ctx, a, p, first, store.MFAMethod{UserID: p.UserID, Kind: store.MFAYubiKey, Name: name, PublicID: id})
}

// enrol stores a proven method, audited ahead. A first method also gives
// the user backup codes (shown once) and counts as this session's sign-in
// proof: the user just proved they hold it.
func (s *Service) enrol(ctx context.Context, a Actor, p *authz.Principal, first bool, m store.MFAMethod) (*Enrolled, error) {
	details := map[string]any{"method": m.Kind, "name": m.Name}
	if m.PublicID != "" {
		details["public_id"] = m.PublicID
	}
	if err := s.writeAhead(ctx, a, ActionEnrol, authz.MFASelf, details); err != nil {
		return nil, err
	}
	switch err := s.st.CreateMFAMethod(ctx, &m); {
	case errors.Is(err, store.ErrConflict):
		s.denied(a, ActionEnrol, "mfa_conflict", 409, details)
		return nil, &Invalid{Msg: "that key is already enrolled (by you or someone else)"}
	case err != nil:
		return nil, s.unavailable("store a method", err)
	}
	out := &Enrolled{Method: m}
	if first {
		codes, err := s.newBackupCodes(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		out.BackupCodes = codes
		s.audit.Record(s.event(a, ActionBackupCodes, authz.MFASelf, map[string]any{"count": len(codes), "first": true}))
	}
	if err := s.recordProof(ctx, p, m.Kind); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) newBackupCodes(ctx context.Context, userID int64) ([]string, error) {
	codes, err := backupcode.Generate(BackupCodeCount)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		canon, _ := backupcode.Canonical(c)
		hashes[i] = backupcode.Hash(canon)
	}
	if err := s.st.ReplaceBackupCodes(ctx, userID, hashes); err != nil {
		return nil, s.unavailable("store backup codes", err)
	}
	return codes, nil
}

// RegenerateBackupCodes replaces the user's backup codes (the old ones
// stop working) and returns the new ones, shown once. It needs a recent
// second factor.
func (s *Service) RegenerateBackupCodes(ctx context.Context, a Actor) ([]string, error) {
	p, err := person(a)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(a, authz.MFASelf); err != nil {
		return nil, err
	}
	if err := s.writeAhead(ctx, a, ActionBackupCodes, authz.MFASelf, map[string]any{"count": BackupCodeCount}); err != nil {
		return nil, err
	}
	return s.newBackupCodes(ctx, p.UserID)
}

// Remove deletes one of the actor's own methods. It needs a recent second
// factor.
func (s *Service) Remove(ctx context.Context, a Actor, id int64) error {
	p, err := person(a)
	if err != nil {
		return err
	}
	if err := s.authorize(a, authz.MFASelf); err != nil {
		return err
	}
	m, err := s.st.GetMFAMethod(ctx, p.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return &Invalid{Msg: "no such method of yours"}
	} else if err != nil {
		return s.unavailable("read a method", err)
	}
	if err := s.writeAhead(ctx, a, ActionRemove, authz.MFASelf, map[string]any{"method": m.Kind, "method_id": m.ID, "name": m.Name}); err != nil {
		return err
	}
	if err := s.st.DeleteMFAMethod(ctx, p.UserID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return s.unavailable("delete a method", err)
	}
	s.changed()
	s.tell(ctx, "mfa.method_removed", p.Email, [2]string{"Method", KindLabel(m.Kind) + " " + strconv.Quote(m.Name)},
		[2]string{"Removed by", p.Email}, [2]string{"From", a.SourceIP})
	return nil
}

// Status is a user's MFA state, for the account page and `mfa status`.
type Status struct {
	Methods     []store.MFAMethod
	BackupCodes int // unused
	Locked      bool
	Failures    int
	// Offered lists the kinds this gateway offers.
	Offered []string
}

// StatusOf returns the actor's own MFA state.
func (s *Service) StatusOf(ctx context.Context, a Actor) (*Status, error) {
	p := a.Principal
	if p == nil || p.Kind != authz.KindUser {
		return nil, ErrNotSession
	}
	return s.status(ctx, p.UserID)
}

func (s *Service) status(ctx context.Context, userID int64) (*Status, error) {
	ms, err := s.st.ListMFAMethods(ctx, userID)
	if err != nil {
		return nil, s.unavailable("list methods", err)
	}
	n, err := s.st.CountBackupCodes(ctx, userID)
	if err != nil {
		return nil, s.unavailable("count backup codes", err)
	}
	acct, err := s.account(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range ms { // never leave the service with secrets
		ms[i].Secret, ms[i].Credential = nil, nil
	}
	return &Status{Methods: ms, BackupCodes: n, Locked: !acct.LockedAt.IsZero(), Failures: acct.Failures, Offered: s.Methods()}, nil
}

// Required reports whether the policy requires people to use a second
// factor.
func (s *Service) Required() bool { return s.policy.RequireMFA }

// Window is how long a second factor counts as recent.
func (s *Service) Window() time.Duration { return s.policy.StepUpWindow }

// WindowLeft is how much of the step-up window is left after the
// principal's last proof (0 when none counts).
func (s *Service) WindowLeft(p *authz.Principal) time.Duration {
	if p == nil || p.Assurance.MFAAt.IsZero() {
		return 0
	}
	left := p.Assurance.MFAAt.Add(s.policy.StepUpWindow).Sub(s.now())
	return max(left, 0)
}
