package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp/yubiotptest"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// recorder keeps the audit events the service records.
type recorder struct {
	mu  sync.Mutex
	evs []chain.Event
}

func (r *recorder) Record(ev *chain.Event) { r.mu.Lock(); r.evs = append(r.evs, *ev); r.mu.Unlock() }
func (r *recorder) RecordSync(_ context.Context, ev *chain.Event) error {
	r.Record(ev)
	return nil
}

// actions lists the recorded actions with their decision, e.g.
// "mfa.verify:deny".
func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		out = append(out, ev.Action+":"+ev.Decision)
	}
	return out
}

func (r *recorder) count(action, decision string) int {
	n := 0
	for _, a := range r.actions() {
		if a == action+":"+decision {
			n++
		}
	}
	return n
}

type env struct {
	t      *testing.T
	st     store.Store
	clk    *clock.Fake
	rec    *recorder
	svc    *mfa.Service
	keys   *seal.Keyring
	yubico *yubiotptest.Server
	policy *authz.Policy
}

var testKeys = "k1:" + strings.Repeat("QUJD", 10) + "QUI="

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)), rec: &recorder{}}
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "gw.db")
	}
	st, err := storeopen.Open(context.Background(), dsn, store.WithClock(e.clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.keys, err = seal.ParseKeyring(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	key, b64 := yubiotptest.NewKey()
	e.yubico = yubiotptest.NewServer(t, "42", key)
	yc, err := yubiotp.NewClient("42", b64, []string{e.yubico.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.policy = &authz.Policy{RequireMFA: true, StepUp: true, StepUpWindow: 10 * time.Minute, Clock: e.clk}
	e.svc = e.service(st, yc)
	return e
}

func (e *env) service(st mfa.Store, yc *yubiotp.Client) *mfa.Service {
	return mfa.New(st, mfa.Config{Keys: e.keys, YubiKey: yc, LockAfter: 5, Clock: e.clk}, e.rec, e.policy, nil, nil)
}

// person creates a user with a web session and returns them as an actor
// whose assurance is read back from the store (what authn would build).
func (e *env) person(email string) mfa.Actor {
	e.t.Helper()
	ctx := context.Background()
	u := &store.User{Email: email, Role: authz.RoleAdmin}
	if err := e.st.CreateUser(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	s := &store.Session{Hash: []byte("session-" + email), UserID: u.ID, Kind: "web", ExpiresAt: e.clk.Now().Add(time.Hour)}
	if err := e.st.CreateSession(ctx, s); err != nil {
		e.t.Fatal(err)
	}
	p := &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: email, Role: u.Role, SessionID: s.ID, SessionKind: "web"}
	return e.refresh(mfa.Actor{Principal: p, SourceIP: "192.0.2.7"})
}

// refresh reloads the actor's assurance from the store.
func (e *env) refresh(a mfa.Actor) mfa.Actor {
	e.t.Helper()
	ctx := context.Background()
	p := *a.Principal
	ms, err := e.st.ListMFAMethods(ctx, p.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	sessions, err := e.st.ListSessions(ctx, p.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	p.Assurance = authz.Assurance{Credential: authz.CredentialWebSession, Enrolled: len(ms) > 0}
	for _, s := range sessions {
		if s.ID == p.SessionID && s.MFAMethod != "" {
			p.Assurance.SignedIn = true
			if s.MFAMethod != authn.TrustedDevice { // as authn reads it: no proof for step-up
				p.Assurance.MFAMethod, p.Assurance.MFAAt = s.MFAMethod, s.MFAAt
			}
		}
	}
	a.Principal = &p
	return a
}

// enrolTOTP enrols a TOTP method for the actor and returns its secret.
func (e *env) enrolTOTP(a mfa.Actor) (string, *mfa.Enrolled) {
	e.t.Helper()
	ctx := context.Background()
	pend, err := e.svc.BeginTOTP(ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	code, _ := totp.Code(pend.Secret, e.clk.Now())
	en, err := e.svc.ConfirmTOTP(ctx, a, pend.ID, code, "phone")
	if err != nil {
		e.t.Fatalf("confirm: %v", err)
	}
	return pend.Secret, en
}

func TestTOTPVerify(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	secret, en := e.enrolTOTP(a)
	if len(en.BackupCodes) != mfa.BackupCodeCount {
		t.Fatalf("first enrolment gave %d backup codes", len(en.BackupCodes))
	}
	a = e.refresh(a)
	if !a.Principal.Assurance.Enrolled || !a.Principal.Assurance.SignedIn {
		t.Fatalf("after enrolment: %+v", a.Principal.Assurance)
	}

	// The code that confirmed the enrolment is used up.
	confirm, _ := totp.Code(secret, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, confirm); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("the confirming code again: %v, want replayed", err)
	}
	cases := []struct {
		name string
		at   time.Duration // the code's time, from now
		want error
	}{
		{"one step behind (and not after the last used)", -30 * time.Second, mfa.ErrReplayed},
		{"next step (skew +1)", 30 * time.Second, nil},
		{"the same step again", 30 * time.Second, mfa.ErrReplayed},
		{"two steps ahead", 90 * time.Second, mfa.ErrInvalidCode},
	}
	for _, c := range cases {
		code, _ := totp.Code(secret, e.clk.Now().Add(c.at))
		_, err := e.svc.Verify(ctx, a, code)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	e.clk.Advance(2 * time.Minute)
	code, _ := totp.Code(secret, e.clk.Now().Add(-30*time.Second))
	if m, err := e.svc.Verify(ctx, a, code); err != nil || m != "totp" {
		t.Fatalf("one step behind, later: %q %v", m, err)
	}
	if _, err := e.svc.Verify(ctx, a, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", strings.Repeat("9", 200)} {
		if _, err := e.svc.Verify(ctx, a, bad); err == nil {
			t.Errorf("malformed code %q accepted", bad)
		}
	}
	if e.rec.count(mfa.ActionVerify, "allow") != 2 || e.rec.count(mfa.ActionVerify, "deny") < 5 {
		t.Errorf("audit: %v", e.rec.actions())
	}
	for _, ev := range e.rec.evs {
		if strings.Contains(ev.Details, code) || strings.Contains(ev.Details, secret) {
			t.Fatalf("a code or the secret reached the audit log: %s", ev.Details)
		}
	}
}

// A time step is usable once per person: with two authenticator apps, the
// second app's code for a step the first one used is a replay.
func TestTOTPStepOncePerPerson(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	phone, _ := e.enrolTOTP(a)
	a = e.refresh(a) // the first enrolment is a recent proof: a second app may be added
	e.clk.Advance(30 * time.Second)
	tablet, _ := e.enrolTOTP(a)
	a = e.refresh(a)
	e.clk.Advance(30 * time.Second)
	code, _ := totp.Code(phone, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, code); err != nil {
		t.Fatalf("the phone's code: %v", err)
	}
	other, _ := totp.Code(tablet, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, other); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("the tablet's code for the same step: %v, want replayed", err)
	}
	e.clk.Advance(30 * time.Second)
	other, _ = totp.Code(tablet, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, other); err != nil {
		t.Fatalf("the tablet's code for the next step: %v", err)
	}
}

// The secret is sealed at rest: neither it nor its base32 bytes are in the
// database file, and a sealed secret moved to another user's row does not
// open.
func TestTOTPSecretNotInDatabase(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, "sqlite:"+filepath.Join(dir, "gw.db"))
	a := e.person("a@example.com")
	secret, _ := e.enrolTOTP(a)
	ms, _ := e.st.ListMFAMethods(context.Background(), a.Principal.UserID)
	if len(ms) != 1 || bytes.Contains(ms[0].Secret, []byte(secret)) || ms[0].SecretKeyID != "k1" {
		t.Fatalf("stored method %+v", ms[0])
	}
	e.st.Close()
	for _, f := range []string{"gw.db", "gw.db-wal"} {
		b, _ := readFile(filepath.Join(dir, f))
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the TOTP secret is in %s in plaintext", f)
		}
	}
	if _, err := e.keys.Open(ms[0].SecretKeyID, ms[0].Secret, []byte("rack-gateway totp secret, user 999")); err == nil {
		t.Fatal("a sealed secret opened for another user")
	}
}

// Repeated failures lock the user; a locked user is refused even the
// right code until an admin unlocks them.
func TestLockout(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	adm := e.person("admin@example.com")
	secret, _ := e.enrolTOTP(a)
	e.enrolTOTP(adm)
	a = e.refresh(a)
	for i := range 5 {
		if _, err := e.svc.Verify(ctx, a, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	e.clk.Advance(time.Minute)
	good, _ := totp.Code(secret, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, good); !errors.Is(err, mfa.ErrLocked) {
		t.Fatalf("the right code while locked: %v", err)
	}
	if e.rec.count(mfa.ActionLocked, "deny") != 1 {
		t.Fatalf("lockout not audited once: %v", e.rec.actions())
	}
	// Unlocking needs an admin with a recent second factor.
	adm = e.refresh(adm)
	e.clk.Advance(11 * time.Minute)
	var fb *mfa.Forbidden
	if err := e.svc.Unlock(ctx, adm, "a@example.com"); !errors.As(err, &fb) || fb.Decision.Reason != authz.ReasonStepUpRequired {
		t.Fatalf("unlock without a recent factor: %v", err)
	}
	if err := e.svc.Unlock(ctx, a, "a@example.com"); err == nil {
		t.Fatal("a locked user unlocked themselves")
	}
	adm.Principal.Assurance.MFAAt = e.clk.Now()
	// The admin's overview of everyone shows the lockout; the locked user
	// cannot read it.
	all, err := e.svc.Overview(ctx, adm)
	if err != nil {
		t.Fatal(err)
	}
	if sa, sb := all["a@example.com"], all["admin@example.com"]; !sa.Locked || len(sa.Kinds) != 1 || sa.Kinds[0] != "totp" || sb.Locked || len(sb.Kinds) != 1 {
		t.Fatalf("overview %+v", all)
	}
	if _, err := e.svc.Overview(ctx, a); !errors.As(err, &fb) {
		t.Fatalf("a viewer read the overview: %v", err)
	}
	if err := e.svc.Unlock(ctx, adm, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if all, _ := e.svc.Overview(ctx, adm); all["a@example.com"].Locked {
		t.Fatalf("overview after unlock %+v", all)
	}
	good, _ = totp.Code(secret, e.clk.Now())
	if _, err := e.svc.Verify(ctx, a, good); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestBackupCodes(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	_, en := e.enrolTOTP(a)
	a = e.refresh(a)
	code := en.BackupCodes[3]
	if m, err := e.svc.Verify(ctx, a, strings.ToUpper(code)); err != nil || m != mfa.BackupCode {
		t.Fatalf("a backup code: %q %v", m, err)
	}
	if _, err := e.svc.Verify(ctx, a, code); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a used backup code: %v", err)
	}
	st, _ := e.svc.StatusOf(ctx, a)
	if st.BackupCodes != mfa.BackupCodeCount-1 {
		t.Fatalf("%d codes left", st.BackupCodes)
	}
	if e.rec.count(mfa.ActionBackupCodeUsed, "allow") != 1 {
		t.Errorf("backup code use not audited: %v", e.rec.actions())
	}
	// Regenerating needs a recent factor, and the old codes stop working.
	e.clk.Advance(11 * time.Minute)
	a = e.refresh(a)
	if _, err := e.svc.RegenerateBackupCodes(ctx, a); err == nil {
		t.Fatal("regenerated without a recent factor")
	}
	a.Principal.Assurance.MFAAt = e.clk.Now()
	fresh, err := e.svc.RegenerateBackupCodes(ctx, a)
	if err != nil || len(fresh) != mfa.BackupCodeCount {
		t.Fatalf("regenerate: %v", err)
	}
	if _, err := e.svc.Verify(ctx, a, en.BackupCodes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("an old code after regeneration: %v", err)
	}
	if _, err := e.svc.Verify(ctx, a, fresh[0]); err != nil {
		t.Fatalf("a new code: %v", err)
	}
}

// YubiKey OTP against the fake validation server: only a fresh, genuine
// OTP from the user's own key passes.
func TestYubiKey(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	b := e.person("b@example.com")
	e.yubico.AddKey("cccccbcdefgh")
	e.yubico.AddKey("cccccbcdefgi")
	if _, err := e.svc.EnrolYubiKey(ctx, a, e.yubico.OTP("cccccbcdefgh"), "blue"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.EnrolYubiKey(ctx, b, e.yubico.OTP("cccccbcdefgi"), ""); err != nil {
		t.Fatal(err)
	}
	a, b = e.refresh(a), e.refresh(b)
	// A key already bound to a user cannot be enrolled by another.
	b.Principal.Assurance.MFAAt = e.clk.Now()
	if _, err := e.svc.EnrolYubiKey(ctx, b, e.yubico.OTP("cccccbcdefgh"), ""); err == nil {
		t.Fatal("b enrolled a's key")
	}

	valid := e.yubico.OTP("cccccbcdefgh")
	if m, err := e.svc.Verify(ctx, a, valid); err != nil || m != "yubikey" {
		t.Fatalf("a valid OTP: %q %v", m, err)
	}
	if _, err := e.svc.Verify(ctx, a, valid); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("a replayed OTP: %v", err)
	}
	if _, err := e.svc.Verify(ctx, b, e.yubico.OTP("cccccbcdefgh")); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("an OTP of another user's key: %v", err)
	}
	for _, mode := range []yubiotptest.Mode{yubiotptest.BadSignature, yubiotptest.WrongNonce} {
		e.yubico.SetMode(mode)
		if _, err := e.svc.Verify(ctx, a, e.yubico.OTP("cccccbcdefgh")); err == nil {
			t.Errorf("mode %v: accepted", mode)
		}
		e.yubico.SetMode(yubiotptest.Honest)
	}
}

// Two gateways on one PostgreSQL database accept a TOTP code once between
// them.
func TestTOTPReplayAcrossReplicas(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	e := newEnv(t, dsn)
	a := e.person("a@example.com")
	secret, _ := e.enrolTOTP(a)
	a = e.refresh(a)
	st2, err := storeopen.Open(context.Background(), dsn, store.WithClock(e.clk))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	other := e.service(st2, nil)
	e.clk.Advance(time.Minute)
	code, _ := totp.Code(secret, e.clk.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, replayed int
	for i := range 6 {
		svc := e.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() {
			_, err := svc.Verify(context.Background(), a, code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, mfa.ErrReplayed):
				replayed++
			default:
				t.Errorf("verify: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || replayed != 5 {
		t.Fatalf("one code on two gateways: %d accepted, %d replays; want 1 and 5", ok, replayed)
	}
}

// Managing one's factors: a first enrolment needs only the session; a
// second one, or removing one, needs a recent second factor.
func TestEnrolAndRemoveNeedStepUp(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	e.enrolTOTP(a)
	e.clk.Advance(11 * time.Minute)
	a = e.refresh(a)
	var fb *mfa.Forbidden
	if _, err := e.svc.BeginTOTP(ctx, a); !errors.As(err, &fb) || fb.Decision.StepUp != authz.StepUpRecent {
		t.Fatalf("a second enrolment without a recent factor: %v", err)
	}
	st, _ := e.svc.StatusOf(ctx, a)
	if err := e.svc.Remove(ctx, a, st.Methods[0].ID); !errors.As(err, &fb) {
		t.Fatalf("removal without a recent factor: %v", err)
	}
	a.Principal.Assurance.MFAAt = e.clk.Now()
	if err := e.svc.Remove(ctx, a, st.Methods[0].ID+1000); err == nil {
		t.Fatal("removed a method that is not the user's")
	}
	if err := e.svc.Remove(ctx, a, st.Methods[0].ID); err != nil {
		t.Fatal(err)
	}
	if e.rec.count(mfa.ActionRemove, "allow") != 1 {
		t.Errorf("removal not audited: %v", e.rec.actions())
	}
	// An API token has no second factors.
	tok := mfa.Actor{Principal: &authz.Principal{Kind: authz.KindToken, UserID: a.Principal.UserID}}
	if _, err := e.svc.Verify(ctx, tok, "123456"); !errors.Is(err, mfa.ErrNotSession) {
		t.Fatalf("a token verified: %v", err)
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Failed attempts are also limited per client address, across users: an
// address that has spent its budget is refused before any code is
// checked, while another address is not.
func TestIPLimit(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	e.svc = mfa.New(e.st, mfa.Config{Keys: e.keys, LockAfter: 100, Clock: e.clk,
		IPLimit: limits.NewFailureLimiter(60, 3, e.clk)}, e.rec, e.policy, nil, nil)
	a, b := e.person("a@example.com"), e.person("b@example.com")
	secretA, _ := e.enrolTOTP(a)
	e.enrolTOTP(b)
	a, b = e.refresh(a), e.refresh(b)
	for i, who := range []mfa.Actor{a, b, a} {
		if _, err := e.svc.Verify(ctx, who, "000000"); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	e.clk.Advance(100 * time.Millisecond)
	good, _ := totp.Code(secretA, e.clk.Now().Add(30*time.Second))
	if _, err := e.svc.Verify(ctx, a, good); !errors.Is(err, mfa.ErrRateLimited) {
		t.Fatalf("a good code from a spent address: %v, want rate limited", err)
	}
	elsewhere := a
	elsewhere.SourceIP = "198.51.100.9"
	if _, err := e.svc.Verify(ctx, elsewhere, good); err != nil {
		t.Fatalf("the same code from another address: %v", err)
	}
}

// A trusted browser passes the sign-in second factor of a new session of
// the same person, never a step-up; another person cannot use it; once
// forgotten, it stops working on the next sign-in.
func TestTrustedBrowser(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	e.svc = mfa.New(e.st, mfa.Config{Keys: e.keys, TrustDays: 30, Clock: e.clk}, e.rec, e.policy, nil, nil)
	a := e.person("a@example.com")
	e.enrolTOTP(a)
	a = e.refresh(a)
	token, exp, err := e.svc.TrustBrowser(ctx, a)
	if err != nil || !strings.HasPrefix(token, "rgwt_") || !exp.Equal(e.clk.Now().Add(30*24*time.Hour)) {
		t.Fatalf("trust: %q %v %v", token, exp, err)
	}
	devices, _ := e.svc.TrustedBrowsers(ctx, a)
	if len(devices) != 1 || bytes.Contains([]byte(fmt.Sprint(devices)), []byte(token)) {
		t.Fatalf("devices %+v", devices)
	}

	newSession := func(email string) mfa.Actor {
		u, _ := e.st.GetUserByEmail(ctx, email)
		s := &store.Session{Hash: []byte(fmt.Sprintf("s-%s-%d", email, e.clk.Now().UnixNano())), UserID: u.ID, Kind: "web", ExpiresAt: e.clk.Now().Add(time.Hour)}
		if err := e.st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Microsecond)
		return e.refresh(mfa.Actor{Principal: &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: email, Role: u.Role, SessionID: s.ID}})
	}
	e.clk.Advance(time.Hour)
	a2 := newSession("a@example.com")
	if d := e.policy.Decide(authz.Request{Principal: a2.Principal, Permission: authz.AppRead}); d.Reason != authz.ReasonStepUpRequired {
		t.Fatalf("a new session before sign-in: %s", d.Reason)
	}
	if ok, err := e.svc.SignInWithTrustedBrowser(ctx, a2, token); !ok || err != nil {
		t.Fatalf("trusted sign-in: %v %v", ok, err)
	}
	a2 = e.refresh(a2)
	if d := e.policy.Decide(authz.Request{Principal: a2.Principal, Permission: authz.AppRead}); !d.Allow {
		t.Fatalf("a read after a trusted sign-in: %s", d.Reason)
	}
	if d := e.policy.Decide(authz.Request{Principal: a2.Principal, Permission: authz.ProcessExec}); d.Reason != authz.ReasonStepUpRequired {
		t.Fatalf("exec after a trusted sign-in: %v %s, want step_up_required", d.Allow, d.Reason)
	}
	if _, _, err := e.svc.TrustBrowser(ctx, a2); err == nil {
		t.Fatal("a browser trusted on the strength of another trusted browser")
	}

	e.person("b@example.com")
	if ok, _ := e.svc.SignInWithTrustedBrowser(ctx, newSession("b@example.com"), token); ok {
		t.Fatal("another person signed in with a's trusted browser")
	}
	for _, bad := range []string{"", "rgwt_", token + "x", strings.Repeat("a", 500)} {
		if ok, _ := e.svc.SignInWithTrustedBrowser(ctx, newSession("a@example.com"), bad); ok {
			t.Fatalf("token %q accepted", bad)
		}
	}
	if err := e.svc.ForgetBrowser(ctx, a, devices[0].ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.svc.SignInWithTrustedBrowser(ctx, newSession("a@example.com"), token); ok {
		t.Fatal("a forgotten browser still signs in")
	}
	// Expiry.
	a = e.refresh(a)
	a.Principal.Assurance.MFAAt = e.clk.Now()
	token2, _, err := e.svc.TrustBrowser(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(31 * 24 * time.Hour)
	if ok, _ := e.svc.SignInWithTrustedBrowser(ctx, newSession("a@example.com"), token2); ok {
		t.Fatal("an expired trusted browser still signs in")
	}
}

// A CLI session's request to be verified in a browser: only a browser
// session of the same person that proved a factor just now completes it,
// and only the session that asked can use it, once.
func TestBrowserVerification(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	web := e.person("a@example.com")
	e.enrolTOTP(web)
	web = e.refresh(web)
	u, _ := e.st.GetUserByEmail(ctx, "a@example.com")
	cliSess := &store.Session{Hash: []byte("cli-a"), UserID: u.ID, Kind: "cli", Name: "laptop", ExpiresAt: e.clk.Now().Add(time.Hour)}
	if err := e.st.CreateSession(ctx, cliSess); err != nil {
		t.Fatal(err)
	}
	cli := e.refresh(mfa.Actor{Principal: &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: u.Email, Role: u.Role, SessionID: cliSess.ID}})
	id, err := e.svc.StartBrowserVerification(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	bob := e.person("b@example.com")
	if _, err := e.svc.BrowserVerification(ctx, bob, id); !errors.Is(err, mfa.ErrExpired) {
		t.Fatalf("another person reads the request: %v", err)
	}
	if err := e.svc.CompleteBrowserVerification(ctx, bob, id); err == nil {
		t.Fatal("another person completed it")
	}
	if _, err := e.svc.Check(ctx, cli, mfa.BrowserPrefix+id); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("used before the browser verified: %v", err)
	}
	id, _ = e.svc.StartBrowserVerification(ctx, cli) // the failed use took the first one
	e.clk.Advance(2 * time.Minute)
	web = e.refresh(web)
	var fb *mfa.Forbidden
	if err := e.svc.CompleteBrowserVerification(ctx, web, id); !errors.As(err, &fb) {
		t.Fatalf("completed without a fresh factor in the browser: %v", err)
	}
	web.Principal.Assurance.MFAAt = e.clk.Now()
	if err := e.svc.CompleteBrowserVerification(ctx, web, id); err != nil {
		t.Fatal(err)
	}
	if req, err := e.svc.BrowserVerification(ctx, cli, id); err != nil || !req.Done || req.SessionName != "laptop" {
		t.Fatalf("the CLI's view: %+v %v", req, err)
	}
	if _, err := e.svc.Check(ctx, web, mfa.BrowserPrefix+id); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("another session used it: %v", err)
	}
	if m, err := e.svc.Check(ctx, cli, mfa.BrowserPrefix+id); err != nil || m != "browser" {
		t.Fatalf("the CLI uses it: %q %v", m, err)
	}
	if _, err := e.svc.Check(ctx, cli, mfa.BrowserPrefix+id); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("used twice: %v", err)
	}
}

// Hostile input: a method's name with control characters, invalid UTF-8
// or too long is refused and nothing is enrolled; codes that are not
// UTF-8, carry NUL or are huge are refused as invalid.
func TestHostileInput(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.person("a@example.com")
	for _, name := range []string{"\x1b[31mred", "a\x00b", "\xff\xfe", strings.Repeat("n", 65), "line\nbreak"} {
		pend, err := e.svc.BeginTOTP(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.Code(pend.Secret, e.clk.Now())
		var inv *mfa.Invalid
		if _, err := e.svc.ConfirmTOTP(ctx, a, pend.ID, code, name); !errors.As(err, &inv) {
			t.Errorf("name %q: %v, want refused", name, err)
		}
	}
	if ms, _ := e.st.ListMFAMethods(ctx, a.Principal.UserID); len(ms) != 0 {
		t.Fatalf("%d methods enrolled from refused names", len(ms))
	}
	e.enrolTOTP(a)
	a = e.refresh(a)
	for _, code := range []string{"12\x003456", "\xff\xfe\xfd\xfc\xfb\xfa", "browser:\x00", "browser:" + strings.Repeat("x", 5000), "１２３４５６"} {
		if _, err := e.svc.Verify(ctx, a, code); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("code %q: %v, want invalid", code, err)
		}
	}
}
