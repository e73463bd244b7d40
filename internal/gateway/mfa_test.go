package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp/yubiotptest"
	"github.com/rack-gateway/rack-gateway/internal/routes"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// mfaEnv is a gateway whose people have YubiKeys validated by a fake
// Yubico server: every touch is a fresh OTP, so a test can prove a second
// factor as often as it needs.
type mfaEnv struct {
	*testEnv
	yubico *yubiotptest.Server
}

func newMFAEnv(t *testing.T) *mfaEnv {
	key, b64 := yubiotptest.NewKey()
	y := yubiotptest.NewServer(t, "7", key)
	e := newEnv(t, func(c *configT) {
		c.MFA.YubicoClientID, c.MFA.YubicoAPIKey, c.MFA.YubicoServers = "7", b64, []string{y.URL}
	})
	return &mfaEnv{testEnv: e, yubico: y}
}

// keyOf is the YubiKey public id of a role's user.
func keyOf(role string) string {
	return map[string]string{authz.RoleViewer: "cccccccccccb", authz.RoleOps: "cccccccccccd",
		authz.RoleDeployer: "ccccccccccce", authz.RoleAdmin: "cccccccccccf"}[role]
}

// session starts a CLI session for the role's user; with enrol, the user
// enrols their YubiKey through it (which signs the session in).
func (e *mfaEnv) session(role string, enrol bool) (string, *store.Session) {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.st.GetUserByEmail(ctx, role+"@example.com")
	if err != nil {
		e.t.Fatal(err)
	}
	s := &store.Session{UserID: u.ID, Kind: authn.KindCLI, Name: "test"}
	tok, err := e.gw.Authn.StartSession(ctx, s)
	if err != nil {
		e.t.Fatal(err)
	}
	if enrol {
		res, _ := e.gw.Authn.AuthenticateToken(ctx, tok)
		e.yubico.AddKey(keyOf(role))
		ms, _ := e.st.ListMFAMethods(ctx, u.ID)
		if len(ms) == 0 {
			if _, err := e.gw.MFA.EnrolYubiKey(ctx, mfa.Actor{Principal: res.Principal}, e.yubico.OTP(keyOf(role)), ""); err != nil {
				e.t.Fatalf("enrol %s: %v", role, err)
			}
		} else if _, err := e.gw.MFA.Verify(ctx, mfa.Actor{Principal: res.Principal}, e.yubico.OTP(keyOf(role))); err != nil {
			e.t.Fatal(err)
		}
	}
	return tok, s
}

// age moves the session's last proof an hour back: signed in, but no
// recent second factor.
func (e *mfaEnv) age(s *store.Session) {
	e.t.Helper()
	if err := e.st.SetSessionMFA(context.Background(), s.ID, store.MFAYubiKey, time.Now().Add(-time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	e.gw.Authn.Invalidate()
}

type mfaAnswer struct {
	status  int
	reason  string
	level   string // the header
	bodyLvl string // the body's mfa_level
}

// send makes a call as the session, with a second-factor code if given.
func (e *mfaEnv) send(rt *routes.Route, token, code string) mfaAnswer {
	e.t.Helper()
	hdr := http.Header{}
	if code != "" {
		hdr.Set(apitypes.HeaderMFACode, code)
	}
	path := "/rack" + samplePath(rt.Path)
	var resp *http.Response
	if rt.Websocket {
		c, r, err := e.dialWS(path, token, hdr)
		if err == nil {
			c.Close()
		}
		if r == nil {
			e.t.Fatalf("%s: no answer: %v", rt.Name, err)
		}
		resp = r
	} else {
		resp = e.do(rt.Method, path, token, strings.NewReader("x"), hdr)
	}
	a := mfaAnswer{status: resp.StatusCode, level: resp.Header.Get(apitypes.HeaderMFARequired)}
	if resp.Body != nil {
		_, body := read(e.t.(*testing.T), resp)
		var b struct {
			Reason   string `json:"reason"`
			MFALevel string `json:"mfa_level"`
		}
		_ = json.Unmarshal([]byte(body), &b)
		a.reason, a.bodyLvl = b.Reason, b.MFALevel
	}
	return a
}

// routeFor returns a route of the table that needs perm.
func routeFor(perm authz.Permission) *routes.Route {
	table := routes.Table()
	var ws *routes.Route
	for i := range table {
		if table[i].Permission == perm {
			if !table[i].Websocket {
				return &table[i]
			}
			ws = &table[i]
		}
	}
	return ws
}

// TestStepUpMatrix, generated from the policy data: for every permission
// that needs a second factor and every role, a signed-in session without a
// recent one is refused with the documented answer (403, the
// Rack-Gateway-Mfa-Required header and body naming the level) and goes
// through once it sends a code; per-request actions need a code every
// time; a role that lacks the permission is refused whatever it proves.
func TestStepUpMatrix(t *testing.T) {
	e := newMFAEnv(t)
	for _, role := range authz.RoleNames() {
		tok, s := e.session(role, true)
		perms, _ := authz.RolePermissions(role)
		for _, perm := range authz.All() {
			req := authz.RequirementOf(perm)
			rt := routeFor(perm)
			if req.StepUp < authz.StepUpRecent || rt == nil {
				continue
			}
			name := role + "/" + string(perm) + " (" + rt.Name + ")"
			e.age(s)
			first := e.send(rt, tok, "")
			if !perms.Has(perm) {
				if first.status != 403 || first.reason != string(authz.ReasonMissingPermission) || first.level != "" {
					t.Errorf("%s: %+v, want 403 missing_permission without a second-factor header", name, first)
				}
				if again := e.send(rt, tok, e.yubico.OTP(keyOf(role))); again.reason != string(authz.ReasonMissingPermission) {
					t.Errorf("%s: with a second factor: %+v, want still missing_permission", name, again)
				}
				continue
			}
			if first.status != 403 || first.reason != string(authz.ReasonStepUpRequired) || first.level != req.StepUp.String() || first.bodyLvl != first.level {
				t.Errorf("%s: %+v, want 403 step_up_required at level %s", name, first, req.StepUp)
				continue
			}
			e.rack.ResetRequests()
			ok := e.send(rt, tok, e.yubico.OTP(keyOf(role)))
			if ok.level != "" || ok.reason == string(authz.ReasonStepUpRequired) || strings.HasPrefix(ok.reason, "mfa_") {
				t.Errorf("%s: with a code: %+v, want past the step-up", name, ok)
			}
			if !e.rackSaw(rt.Method, samplePath(rt.Path)) && ok.reason == "" {
				t.Errorf("%s: with a code the call did not reach the rack (%+v)", name, ok)
			}
			// Right after, without a code: a recent factor suffices for
			// "recent"; "every-request" asks again.
			next := e.send(rt, tok, "")
			if req.StepUp == authz.StepUpEveryRequest && (next.reason != string(authz.ReasonStepUpRequired) || next.level != "every-request") {
				t.Errorf("%s: the next call without a code: %+v, want every-request again", name, next)
			}
			if req.StepUp == authz.StepUpRecent && next.level != "" {
				t.Errorf("%s: the next call in the window: %+v, want no second-factor refusal", name, next)
			}
		}
	}
	// API tokens are never asked for a second factor.
	for _, perm := range []authz.Permission{authz.RackUpdate, authz.ProcessExec, authz.AppDelete} {
		if a := e.send(routeFor(perm), e.tokens[authz.RoleAdmin], ""); a.level != "" || a.reason == string(authz.ReasonStepUpRequired) {
			t.Errorf("an admin API token on %s: %+v, want no second factor asked", perm, a)
		}
	}
}

// A session that has not completed its second factor — not enrolled, or
// enrolled but not signed in — cannot read apps, the audit log, users or
// tokens, through the rack API or the admin API; a wrong code gets 401
// and counts towards the lockout.
func TestSessionBeforeMFACanDoNothing(t *testing.T) {
	e := newMFAEnv(t)
	paths := []string{"/rack/apps", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit", "/api/v1/sessions?user=*"}
	check := func(name, token, reason, level string) {
		t.Helper()
		e.rack.ResetRequests()
		for _, path := range paths {
			resp := e.do("GET", path, token, nil, nil)
			status, body := read(t, resp)
			want := level
			if level == "sign-in" && (strings.HasPrefix(path, "/api/v1/users") || strings.HasPrefix(path, "/api/v1/sessions")) {
				want = "recent" // administering users needs a recent factor: the level names the most that is needed
			}
			if status != 403 || !strings.Contains(body, reason) || resp.Header.Get(apitypes.HeaderMFARequired) != want {
				t.Errorf("%s GET %s: %d %s (level %q), want 403 %s", name, path, status, body, resp.Header.Get(apitypes.HeaderMFARequired), reason)
			}
		}
		if n := len(e.rack.Requests()); n != 0 {
			t.Errorf("%s: %d calls reached the rack", name, n)
		}
	}
	fresh, _ := e.session(authz.RoleAdmin, false) // the admin has no second factor yet
	check("not enrolled", fresh, string(authz.ReasonMFAEnrollmentRequired), apitypes.MFALevelEnrol)
	e.session(authz.RoleAdmin, true) // enrols the admin's key in another session
	notSignedIn, _ := e.session(authz.RoleAdmin, false)
	check("enrolled, not signed in", notSignedIn, string(authz.ReasonStepUpRequired), "sign-in")
	check("the first session, now enrolled, not signed in", fresh, string(authz.ReasonStepUpRequired), "sign-in")

	// A wrong code: 401 mfa_failed, and the rack never sees the call.
	e.rack.ResetRequests()
	resp := e.do("GET", "/rack/apps", notSignedIn, nil, http.Header{apitypes.HeaderMFACode: {"123456"}})
	if status, body := read(t, resp); status != 401 || !strings.Contains(body, "mfa_failed") {
		t.Errorf("a wrong code: %d %s, want 401 mfa_failed", status, body)
	}
	if len(e.rack.Requests()) != 0 {
		t.Errorf("a refused call reached the rack: %+v", e.rack.Requests())
	}
	// The sign-in factor sent with a call signs the session in.
	resp = e.do("GET", "/rack/apps", notSignedIn, nil, http.Header{apitypes.HeaderMFACode: {e.yubico.OTP(keyOf(authz.RoleAdmin))}})
	if status, body := read(t, resp); status != 200 {
		t.Fatalf("with the sign-in factor: %d %s", status, body)
	}
	for _, path := range paths {
		if status, body := read(t, e.do("GET", path, notSignedIn, nil, nil)); status != 200 {
			t.Errorf("GET %s after signing in: %d %s", path, status, body)
		}
	}
	// The admin API takes the code the same way (the CLI's retry).
	resp = e.do("GET", "/api/v1/users", fresh, nil, http.Header{apitypes.HeaderMFACode: {e.yubico.OTP(keyOf(authz.RoleAdmin))}})
	if status, body := read(t, resp); status != 200 {
		t.Errorf("admin API with a code: %d %s", status, body)
	}
}

// An admin resets a person who lost their device (their factors go and
// their sessions end) and unlocks a locked-out one, through the admin API,
// with a second factor on the request; not themselves, and not without
// one.
func TestAdminResetAndUnlock(t *testing.T) {
	e := newMFAEnv(t)
	admin, adminSess := e.session(authz.RoleAdmin, true)
	dep, _ := e.session(authz.RoleDeployer, true)
	e.age(adminSess)
	path := "/api/v1/users/deployer@example.com/mfa"
	resp := e.do("DELETE", path, admin, nil, nil)
	if status, _ := read(t, resp); status != 403 || resp.Header.Get(apitypes.HeaderMFARequired) != "recent" {
		t.Fatalf("reset without a recent factor: %d", status)
	}
	code := func() http.Header { return http.Header{apitypes.HeaderMFACode: {e.yubico.OTP(keyOf(authz.RoleAdmin))}} }
	if status, body := read(t, e.do("DELETE", "/api/v1/users/admin@example.com/mfa", admin, nil, code())); status != 400 {
		t.Errorf("an admin resetting themselves: %d %s", status, body)
	}
	if status, body := read(t, e.do("DELETE", path, admin, nil, code())); status != 200 {
		t.Fatalf("reset: %d %s", status, body)
	}
	if status, body := read(t, e.do("GET", "/rack/apps", dep, nil, nil)); status != 401 || !strings.Contains(body, "session_revoked") {
		t.Errorf("the reset person's session: %d %s, want ended", status, body)
	}
	newDep, _ := e.session(authz.RoleDeployer, false)
	if status, body := read(t, e.do("GET", "/rack/apps", newDep, nil, nil)); status != 403 || !strings.Contains(body, "mfa_enrollment_required") {
		t.Errorf("after a reset, a new session: %d %s, want enrolment required", status, body)
	}
	var actions []string
	for _, ev := range e.audit() {
		if strings.HasPrefix(ev.Action, "mfa.") {
			actions = append(actions, ev.Action+":"+ev.Decision)
		}
	}
	if !slices.Contains(actions, "mfa.reset:allow") {
		t.Errorf("the reset is not in the audit log: %v", actions)
	}
	// Unlock after a lockout (10 failures by default).
	ops, _ := e.session(authz.RoleOps, true)
	for range 10 {
		read(t, e.do("GET", "/rack/apps", ops, nil, http.Header{apitypes.HeaderMFACode: {"000000"}}))
	}
	if status, body := read(t, e.do("GET", "/rack/apps", ops, nil, http.Header{apitypes.HeaderMFACode: {e.yubico.OTP(keyOf(authz.RoleOps))}})); status != 403 || !strings.Contains(body, "mfa_locked") {
		t.Fatalf("a good code while locked: %d %s", status, body)
	}
	if status, body := read(t, e.do("POST", "/api/v1/users/ops@example.com/mfa/unlock", admin, nil, nil)); status != 201 { // the window opened by the reset
		t.Fatalf("unlock: %d %s", status, body)
	}
	if status, body := read(t, e.do("GET", "/rack/apps", ops, nil, http.Header{apitypes.HeaderMFACode: {e.yubico.OTP(keyOf(authz.RoleOps))}})); status != 200 {
		t.Fatalf("after unlock: %d %s", status, body)
	}
}

// A role change or disabling ends a person's sessions and forgets their
// trusted browsers: the next sign-in asks for a second factor again.
func TestRoleChangeForgetsTrustedBrowsers(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	for _, change := range []string{"role", "disable"} {
		u, _ := e.st.GetUserByEmail(ctx, "ops@example.com")
		d := &store.TrustedDevice{Hash: []byte("trusted-" + change), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
		if err := e.st.CreateTrustedDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		ch := admin.UserChange{}
		if change == "role" {
			role := authz.RoleDeployer
			ch.Role = &role
		} else {
			yes := true
			ch.Disabled = &yes
		}
		if _, err := e.gw.Admin.UpdateUser(ctx, admin.Actor{System: "test"}, "ops@example.com", ch); err != nil {
			t.Fatal(err)
		}
		got, _ := e.st.GetTrustedDeviceByHash(ctx, d.Hash)
		if got.RevokedAt.IsZero() {
			t.Errorf("after a %s change the trusted browser still works", change)
		}
	}
}

// Minting an API token is a new credential: a person needs a recent second
// factor for it, while listing and revoking one's own tokens stay free. A
// refused creation leaves no token behind.
func TestTokenCreationNeedsStepUp(t *testing.T) {
	e := newMFAEnv(t)
	tok, s := e.session(authz.RoleViewer, true)
	e.age(s)
	create := func(code string) (int, string, string) {
		hdr := http.Header{"Content-Type": {"application/json"}}
		if code != "" {
			hdr.Set(apitypes.HeaderMFACode, code)
		}
		resp := e.do("POST", "/api/v1/tokens", tok, strings.NewReader(`{"name":"ci"}`), hdr)
		status, body := read(t, resp)
		return status, body, resp.Header.Get(apitypes.HeaderMFARequired)
	}
	count := func() int {
		u, _ := e.st.GetUserByEmail(context.Background(), "viewer@example.com")
		ts, err := e.st.ListTokens(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	before := count()
	if status, body, level := create(""); status != 403 || level != "recent" || !strings.Contains(body, string(authz.ReasonStepUpRequired)) {
		t.Fatalf("create without a recent factor: %d %s (level %q), want 403 step_up_required at recent", status, body, level)
	}
	if n := count(); n != before {
		t.Fatalf("a refused creation left %d tokens (had %d)", n, before)
	}
	if status, body, _ := create("not-an-otp"); status == 201 || status == 200 {
		t.Fatalf("create with a bad code: %d %s", status, body)
	}
	status, body, _ := create(e.yubico.OTP(keyOf(authz.RoleViewer)))
	if status != 201 && status != 200 {
		t.Fatalf("create with a code: %d %s", status, body)
	}
	var ct apitypes.CreatedToken
	if err := json.Unmarshal([]byte(body), &ct); err != nil || ct.Token == "" {
		t.Fatalf("created token: %v %s", err, body)
	}
	// Listing and revoking one's own token need no fresh factor.
	e.age(s)
	if status, body := read(t, e.do("GET", "/api/v1/tokens", tok, nil, nil)); status != 200 || !strings.Contains(body, `"ci"`) {
		t.Fatalf("list without a recent factor: %d %s", status, body)
	}
	path := "/api/v1/tokens/" + strconv.FormatInt(ct.Detail.ID, 10)
	if status, body := read(t, e.do("DELETE", path, tok, nil, nil)); status != 200 && status != 204 {
		t.Fatalf("revoke own token without a recent factor: %d %s", status, body)
	}
}

// A token wider than its creator's rights is refused with its own reason,
// audited like any denial, and nothing is created.
func TestTokenScopeTooWideAudited(t *testing.T) {
	e := newMFAEnv(t)
	tok, _ := e.session(authz.RoleViewer, true)
	hdr := http.Header{"Content-Type": {"application/json"}}
	resp := e.do("POST", "/api/v1/tokens", tok, strings.NewReader(`{"name":"wide","permissions":["app:read","app:delete"]}`), hdr)
	status, body := read(t, resp)
	if status != 403 || !strings.Contains(body, string(authz.ReasonScopeTooWide)) || !strings.Contains(body, "app:delete") {
		t.Fatalf("a too-wide token: %d %s", status, body)
	}
	found := false
	for _, ev := range e.audit() {
		if ev.Action == "token.create" && ev.Decision == "deny" && ev.Reason == string(authz.ReasonScopeTooWide) {
			found = strings.Contains(ev.Details, "app:delete")
		}
	}
	if !found {
		t.Fatal("the refusal is not in the audit log")
	}
}
