package console_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var (
	secretRE  = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	pendingRE = regexp.MustCompile(`name="id" value="([^"]+)"`)
	codesRE   = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// enrolTOTP enrols an authenticator app for the session through the
// console's pages (which signs the session in) and returns its secret
// and the answer to the confirmation.
func (e *env) enrolTOTP(session string) (string, resp) {
	e.t.Helper()
	r := e.get("/account/mfa/enrol/totp?return_to=%2Ftokens", session)
	m, id := secretRE.FindStringSubmatch(r.body), pendingRE.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil || id == nil {
		e.t.Fatalf("TOTP enrolment page: %d\n%s", r.status, r.body)
	}
	code := e.code(m[1])
	return m[1], e.post("/account/mfa/totp", session, url.Values{"id": {id[1]}, "code": {code}, "name": {"phone"},
		"return_to": {"/tokens"}})
}

// code moves the clock to the next 30-second step (each step is accepted
// once) and returns the authenticator app's code for it.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := totp.Code(secret, e.clk.Advance(totp.Period*time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// sessionID is the store's id of a session token.
func (e *env) sessionID(session string) int64 {
	e.t.Helper()
	res, err := e.authn.AuthenticateToken(context.Background(), session)
	if err != nil || res.Principal == nil {
		e.t.Fatalf("session: %v %+v", err, res)
	}
	return res.Principal.SessionID
}

// age moves the session's last proof an hour back: signed in, but with no
// recent second factor.
func (e *env) age(session string) {
	e.t.Helper()
	if err := e.st.SetSessionMFA(context.Background(), e.sessionID(session), store.MFATOTP, e.clk.Now().Add(-time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	e.authn.Invalidate()
}

// prove re-posts the fields of a page that asks for a second factor to
// its form's action with the code.
func (e *env) prove(page resp, session, code string, extra ...string) resp {
	e.t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)" class="stack">`).FindStringSubmatch(page.body)
	if m == nil {
		e.t.Fatalf("no form asking for a second factor:\n%s", page.body)
	}
	form := hiddenFields(page.body)
	form.Set("rgw_mfa_code", code)
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.post(html.UnescapeString(m[1]), session, form)
}

// hiddenFields reads the hidden fields of a page's first form.
func hiddenFields(body string) url.Values {
	if i := strings.Index(body, "<main>"); i >= 0 {
		body = body[i:]
	}
	if i := strings.Index(body, "</form>"); i >= 0 {
		body = body[:i]
	}
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		f.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return f
}

func location(r resp) string { return r.header.Get("Location") }

// consoleActions are every console form, with fields that would change
// something, and the page each returns to.
var consoleActions = []struct {
	path string
	form url.Values
}{
	{"/users", url.Values{"email": {"mallory@example.com"}, "role": {"admin"}}},
	{"/users/role", url.Values{"email": {"viewer@example.com"}, "role": {"admin"}}},
	{"/users/status", url.Values{"email": {"ops@example.com"}, "disabled": {"1"}}},
	{"/users/rack-role", url.Values{"email": {"viewer@example.com"}, "rack": {"dev"}, "role": {"admin"}}},
	{"/users/revoke-sessions", url.Values{"email": {"ops@example.com"}}},
	{"/users/mfa/unlock", url.Values{"email": {"ops@example.com"}}},
	{"/users/mfa/reset", url.Values{"email": {"ops@example.com"}}},
	{"/tokens", url.Values{"name": {"stolen"}}},
	{"/tokens/1/revoke", url.Values{}},
	{"/account/sessions/1/revoke", url.Values{}},
	{"/account/mfa/backup-codes", url.Values{}},
	{"/account/mfa/methods/1/remove", url.Values{}},
	{"/account/mfa/trusted/1/forget", url.Values{}},
	{"/mfa/verify", url.Values{"rgw_mfa_code": {"123456"}}},
	{"/mfa/cli/abc", url.Values{"rgw_mfa_code": {"123456"}}},
}

// consolePages are every page that shows data.
var consolePages = []string{"/", "/users", "/tokens", "/tokens?all=1", "/account", "/audit", "/audit?actor=x",
	"/audit/export?format=jsonl", "/audit/export?format=csv", "/policy", "/mfa/verify?return_to=%2Fusers", "/mfa/cli/abc"}

// TestMFAGatekeeping: while MFA is required, a session without a second
// factor reaches only the enrolment pages, and one that has not proved
// it at sign-in only the challenge: every other page and every action is
// a redirect there (returning afterwards), and nothing is read or changed.
func TestMFAGatekeeping(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	checkNothingDone := func(t *testing.T, r resp) {
		t.Helper()
		for _, leak := range []string{"myapp", "ops@example.com", "gateway:users", "rgw_", "audit.export"} {
			if strings.Contains(r.body, leak) {
				t.Errorf("the redirect shows %q:\n%s", leak, r.body)
			}
		}
	}
	cases := []struct {
		name, session, to string
		open              []string // pages open in that state
	}{
		{"not enrolled", e.sessions["admin"], "/account/mfa/enrol", []string{"/account/mfa/enrol", "/account/mfa/enrol/totp"}},
		{"enrolled, not signed in", "", "/mfa/challenge", []string{"/mfa/challenge", "/mfa/challenge?return_to=%2Fusers"}},
	}
	for _, c := range cases {
		if c.session == "" { // the admin enrolled in another session, then signed in again
			e.enrolTOTP(e.startSession("admin@example.com", authn.KindWeb))
			c.session = e.startSession("admin@example.com", authn.KindWeb)
		}
		t.Run(c.name, func(t *testing.T) {
			pages := append(slicesOf(consolePages), "/account/mfa/enrol", "/account/mfa/enrol/totp", "/mfa/challenge")
			for _, p := range pages {
				if contains(c.open, p) {
					continue
				}
				r := e.get(p, c.session)
				if want := c.to + "?return_to=" + url.QueryEscape(p); r.status != http.StatusSeeOther || location(r) != want {
					t.Errorf("GET %s: %d %q, want 303 %q", p, r.status, location(r), want)
				}
				checkNothingDone(t, r)
			}
			for _, p := range c.open {
				if r := e.get(p, c.session); r.status != 200 {
					t.Errorf("GET %s: %d, want 200\n%s", p, r.status, r.body)
				}
			}
			actions := slicesOf(consoleActions)
			if c.to == "/mfa/challenge" { // an enrolled person's enrolment forms need the sign-in first
				actions = append(actions, struct {
					path string
					form url.Values
				}{"/account/mfa/totp", url.Values{"id": {"x"}, "code": {"123456"}}})
			}
			for _, a := range actions {
				r := e.post(a.path, c.session, a.form)
				if r.status != http.StatusSeeOther || !strings.HasPrefix(location(r), c.to+"?return_to=") {
					t.Errorf("POST %s: %d %q, want 303 to %s", a.path, r.status, location(r), c.to)
				}
				checkNothingDone(t, r)
			}
		})
	}
	// Nothing changed.
	if _, err := e.st.GetUserByEmail(ctx, "mallory@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Error("a user was created")
	}
	for role, id := range e.userIDs {
		if u, _ := e.st.GetUser(ctx, id); u.Role != role || u.Disabled {
			t.Errorf("%s changed: %+v", role, u)
		}
	}
	if toks, _ := e.st.ListTokens(ctx, 0); len(toks) != 0 {
		t.Errorf("tokens were created: %d", len(toks))
	}
	if ss, _ := e.st.ListSessions(ctx, e.userIDs["ops"]); len(ss) != 1 || !ss[0].RevokedAt.IsZero() {
		t.Errorf("ops's sessions were changed: %+v", ss)
	}
	// No rack read was made for a gated session.
	e.flush()
	for _, action := range []string{"AppList", "console.view"} {
		if evs, _ := e.st.ListAudit(ctx, store.AuditFilter{Actor: "admin@example.com", Action: action}); len(evs) != 0 {
			t.Errorf("the rack was read for a gated session: %d %s events", len(evs), action)
		}
	}
}

func slicesOf[T any](s []T) []T { return append([]T(nil), s...) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestMFAChallenge: a good TOTP code signs the session in and returns to
// the page asked for; a wrong one shows the page again with 401; a code
// used before is refused; too many failures lock, with a clear message.
func TestMFAChallenge(t *testing.T) {
	e := newMFAEnv(t)
	secret, _ := e.enrolTOTP(e.sessions["admin"])
	s := e.startSession("admin@example.com", authn.KindWeb)

	r := e.get("/users?x=1", s)
	if r.status != 303 || location(r) != "/mfa/challenge?return_to=%2Fusers%3Fx%3D1" {
		t.Fatalf("before the challenge: %d %q", r.status, location(r))
	}
	page := e.get(location(r), s)
	if page.status != 200 || !strings.Contains(page.body, `name="rgw_mfa_code"`) || !strings.Contains(page.body, "Trust this browser for 30 days") ||
		strings.Contains(page.body, `href="/users"`) {
		t.Fatalf("challenge page: %d\n%s", page.status, page.body)
	}
	if page.header.Get("Content-Security-Policy") != wantCSP || scriptRE.MatchString(page.body) {
		t.Errorf("the challenge without a passkey has a script or another policy: %q", page.header.Get("Content-Security-Policy"))
	}

	wrong := e.prove(page, s, "000000")
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, "not valid") || hiddenFields(wrong.body).Get("return_to") != "/users?x=1" {
		t.Fatalf("wrong code: %d\n%s", wrong.status, wrong.body)
	}
	good := e.code(secret)
	ok := e.prove(wrong, s, good)
	if ok.status != 303 || location(ok) != "/users?x=1" {
		t.Fatalf("good code: %d %q\n%s", ok.status, location(ok), ok.body)
	}
	if r := e.get("/users", s); r.status != 200 {
		t.Fatalf("after the challenge: %d", r.status)
	}
	// The same code again, in another new session: refused as used.
	s2 := e.startSession("admin@example.com", authn.KindWeb)
	replay := e.prove(e.get("/mfa/challenge", s2), s2, good)
	if replay.status != http.StatusUnauthorized || !strings.Contains(replay.body, "used before") {
		t.Fatalf("replayed code: %d\n%s", replay.status, replay.body)
	}
	// return_to is only ever a local path; of the login flow's, only the
	// CLI login's finish (its browser step proves the factor here).
	finish := "/auth/cli/finish?request=ab12"
	if r := e.prove(e.get("/mfa/challenge?return_to="+url.QueryEscape(finish), s2), s2, e.code(secret)); location(r) != finish {
		t.Errorf("return to the CLI login: %d %q", r.status, location(r))
	}
	s2 = e.startSession("admin@example.com", authn.KindWeb)
	for _, rt := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/auth/logout"} {
		s := e.startSession("admin@example.com", authn.KindWeb)
		r := e.prove(e.get("/mfa/challenge?return_to="+url.QueryEscape(rt), s), s, e.code(secret))
		if r.status != 303 || location(r) != "/" {
			t.Errorf("return_to %q: %d %q", rt, r.status, location(r))
		}
	}
	// Failures lock the person out (3 here), with a clear message.
	for i := range 3 {
		r := e.prove(e.get("/mfa/challenge", s2), s2, "111111")
		if i < 2 && r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	locked := e.get("/mfa/challenge", s2)
	if !strings.Contains(locked.body, "locked") || strings.Contains(locked.body, `name="rgw_mfa_code"`) {
		t.Fatalf("locked challenge: %d\n%s", locked.status, locked.body)
	}
	r = e.post("/mfa/challenge", s2, url.Values{"rgw_mfa_code": {e.code(secret)}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "ask a gateway admin to unlock") {
		t.Errorf("a good code while locked: %d\n%s", r.status, r.body)
	}
}

// TestMFAEnrolmentShowsBackupCodesOnce: the first enrolment (QR code,
// secret, first code) answers with the backup codes, in that response
// only; they work once each; a further factor shows none.
func TestMFAEnrolmentShowsBackupCodesOnce(t *testing.T) {
	e := newMFAEnv(t)
	s := e.sessions["viewer"]
	r := e.get("/", s)
	if r.status != 303 || location(r) != "/account/mfa/enrol?return_to=%2F" {
		t.Fatalf("first page: %d %q", r.status, location(r))
	}
	choice := e.get(location(r), s)
	if choice.status != 200 || !strings.Contains(choice.body, "Set up a second factor") || !strings.Contains(choice.body, "/account/mfa/enrol/totp?return_to=%2f") ||
		!strings.Contains(choice.body, `data-webauthn="register"`) {
		t.Fatalf("enrolment page: %d\n%s", choice.status, choice.body)
	}
	// The passkey form needs webauthn.js, and only this page's policy allows it.
	if csp := choice.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") ||
		strings.Contains(csp, "unsafe") {
		t.Errorf("enrolment page CSP: %q", csp)
	}
	js := regexp.MustCompile(`<script src="(/static/webauthn\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(choice.body)
	if js == nil || handlerRE.MatchString(choice.body) || styleRE.MatchString(choice.body) {
		t.Fatalf("enrolment page script: %v", js)
	}
	if j := e.get(js[1], ""); j.status != 200 || !strings.HasPrefix(j.header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(j.body, "navigator.credentials.create") {
		t.Errorf("webauthn.js: %d %q", j.status, j.header.Get("Content-Type"))
	}
	if o := e.get("/account/mfa/passkey/options", s); o.status != 200 || !strings.Contains(o.body, `"publicKey"`) ||
		o.header.Get("Content-Type") != "application/json" {
		t.Errorf("passkey options: %d %s", o.status, o.body)
	}

	page := e.get("/account/mfa/enrol/totp?return_to=%2F", s)
	secret, id := secretRE.FindStringSubmatch(page.body), pendingRE.FindStringSubmatch(page.body)
	if page.status != 200 || secret == nil || id == nil {
		t.Fatalf("TOTP page: %d\n%s", page.status, page.body)
	}
	qr := e.get("/account/mfa/totp/"+id[1]+"/qr.png", s)
	if !strings.Contains(page.body, `<img class="qr" src="/account/mfa/totp/`+id[1]+`/qr.png"`) || qr.status != 200 ||
		qr.header.Get("Content-Type") != "image/png" || qr.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Errorf("QR code: %d %v", qr.status, qr.header)
	}
	if r := e.get("/account/mfa/totp/"+id[1]+"/qr.png", e.sessions["ops"]); r.status == 200 {
		t.Error("another session draws the pending QR code")
	}
	form := url.Values{"id": {id[1]}, "name": {"phone"}, "return_to": {"/"}, "code": {"000000"}}
	wrong := e.post("/account/mfa/totp", s, form)
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, secret[1]) || !strings.Contains(wrong.body, "not valid") {
		t.Fatalf("wrong first code: %d\n%s", wrong.status, wrong.body)
	}
	form.Set("code", e.code(secret[1]))
	done := e.post("/account/mfa/totp", s, form)
	codes := codesRE.FindAllStringSubmatch(done.body, -1)
	if done.status != 200 || len(codes) != 10 || !strings.Contains(done.body, "shown only once") || done.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("after the first code: %d, %d codes\n%s", done.status, len(codes), done.body)
	}
	if !strings.Contains(done.body, `href="/">I have saved them`) {
		t.Errorf("the codes page does not go on to return_to")
	}
	for _, c := range done.header.Values("Set-Cookie") {
		for _, code := range codes {
			if strings.Contains(c, code[1]) || strings.Contains(location(done), code[1]) {
				t.Errorf("a backup code in a cookie or URL: %s", c)
			}
		}
	}
	// Never again: the account page counts them, shows none.
	acct := e.get("/account", s)
	if acct.status != 200 || !strings.Contains(acct.body, "<strong>10</strong> unused backup code") || !strings.Contains(acct.body, "authenticator app") ||
		!strings.Contains(acct.body, "<td>phone</td>") {
		t.Fatalf("account page: %d\n%s", acct.status, acct.body)
	}
	for _, code := range codes {
		if strings.Contains(acct.body, code[1]) {
			t.Fatalf("the account page shows backup code %s", code[1])
		}
	}
	// A backup code passes the challenge of a new session, once.
	s2 := e.startSession("viewer@example.com", authn.KindWeb)
	if r := e.prove(e.get("/mfa/challenge", s2), s2, codes[0][1]); r.status != 303 {
		t.Fatalf("backup code: %d\n%s", r.status, r.body)
	}
	s3 := e.startSession("viewer@example.com", authn.KindWeb)
	if r := e.prove(e.get("/mfa/challenge", s3), s3, codes[0][1]); r.status != http.StatusUnauthorized {
		t.Fatalf("backup code twice: %d", r.status)
	}
	if r := e.get("/account", s2); !strings.Contains(r.body, "<strong>9</strong> unused") {
		t.Error("the used backup code is still counted")
	}
	// A second factor added later (in the step-up window) shows no codes.
	_, more := e.enrolTOTP(s2)
	if more.status != 303 || location(more) != "/account" || len(codesRE.FindAllString(more.body, -1)) != 0 {
		t.Fatalf("second enrolment: %d %q\n%s", more.status, location(more), more.body)
	}
	if ms, _ := e.st.ListMFAMethods(context.Background(), e.userIDs["viewer"]); len(ms) != 2 {
		t.Errorf("%d methods", len(ms))
	}
	// Regenerating (a recent factor, which s2 has) shows ten new codes once.
	regen := e.post("/account/mfa/backup-codes", s2, url.Values{})
	if n := len(codesRE.FindAllString(regen.body, -1)); regen.status != 200 || n != 10 || !strings.Contains(regen.body, "earlier backup codes no longer work") {
		t.Fatalf("regenerate: %d, %d codes", regen.status, n)
	}
	s4 := e.startSession("viewer@example.com", authn.KindWeb)
	if r := e.prove(e.get("/mfa/challenge", s4), s4, codes[1][1]); r.status != http.StatusUnauthorized {
		t.Errorf("an old backup code after regenerating: %d", r.status)
	}
}

// TestMFAStepUpReplaysAction: an action refused for want of a recent
// second factor is answered with a page asking for one, which re-posts
// the same fields to the same action: a wrong code keeps them, a good
// one carries the action out. Cross-site re-posts are refused as any
// post. A page refused that way goes through /mfa/verify and back.
func TestMFAStepUpReplaysAction(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	adm := e.sessions["admin"]
	secret, _ := e.enrolTOTP(adm)
	e.age(adm)

	orig := url.Values{"email": {"viewer@example.com"}, "role": {"ops"}}
	r := e.do("POST", "/users/role?rack=dev", adm, orig, map[string]string{"Referer": e.srv.URL + "/users"})
	fields := hiddenFields(r.body)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, `action="/users/role?rack=dev"`) || fields.Get("email") != "viewer@example.com" ||
		fields.Get("role") != "ops" || !strings.Contains(r.body, "what you entered is kept") {
		t.Fatalf("step-up answer: %d %v\n%s", r.status, fields, r.body)
	}
	if mustUser(t, e, "viewer@example.com").Role != "viewer" {
		t.Fatal("the role changed without the step-up")
	}
	wrong := e.prove(r, adm, "000000")
	if wrong.status != http.StatusUnauthorized || hiddenFields(wrong.body).Get("role") != "ops" || !strings.Contains(wrong.body, "not valid") {
		t.Fatalf("wrong code: %d\n%s", wrong.status, wrong.body)
	}
	// The re-post is a post like any other: refused cross-site.
	code := e.code(secret)
	evil := url.Values{"email": {"viewer@example.com"}, "role": {"admin"}, "rgw_mfa_code": {code}}
	if x := e.do("POST", "/users/role", adm, evil, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); x.status != 403 ||
		mustUser(t, e, "viewer@example.com").Role != "viewer" {
		t.Fatalf("cross-site re-post: %d", x.status)
	}
	done := e.prove(wrong, adm, code)
	if done.status != 303 || location(done) != "/users" || mustUser(t, e, "viewer@example.com").Role != "ops" {
		t.Fatalf("good code: %d %q\n%s", done.status, location(done), done.body)
	}
	if !strings.Contains(flashText(t, done.header), "viewer@example.com is now ops") {
		t.Errorf("flash: %q", flashText(t, done.header))
	}
	// The proof opened the window: the next action needs no code.
	if r := e.post("/users/role", adm, url.Values{"email": {"viewer@example.com"}, "role": {"viewer"}}); r.status != 303 {
		t.Fatalf("in the window: %d\n%s", r.status, r.body)
	}

	// A page: to /mfa/verify and back.
	e.age(adm)
	r = e.get("/users?rack=dev", adm)
	if r.status != 303 || location(r) != "/mfa/verify?return_to=%2Fusers%3Frack%3Ddev" {
		t.Fatalf("page step-up: %d %q", r.status, location(r))
	}
	v := e.get(location(r), adm)
	if v.status != 200 || hiddenFields(v.body).Get("return_to") != "/users?rack=dev" || strings.Contains(v.body, "Trust this browser") {
		t.Fatalf("verify page: %d\n%s", v.status, v.body)
	}
	back := e.prove(v, adm, e.code(secret))
	if back.status != 303 || location(back) != "/users?rack=dev" {
		t.Fatalf("verified: %d %q", back.status, location(back))
	}
	if r := e.get("/users", adm); r.status != 200 || !strings.Contains(r.body, `href="/users"`) {
		t.Fatalf("users after verifying: %d", r.status)
	}
	// The admin's MFA actions on a user go the same way.
	e.age(adm)
	r = e.post("/users/mfa/reset", adm, url.Values{"email": {"admin@example.com"}})
	if r.status != 403 || hiddenFields(r.body).Get("email") != "admin@example.com" {
		t.Fatalf("reset without a step-up: %d\n%s", r.status, r.body)
	}
	r = e.prove(r, adm, e.code(secret))
	if r.status != 303 || !strings.Contains(flashText(t, r.header), "cannot reset your own") {
		t.Errorf("reset of oneself: %d %q", r.status, flashText(t, r.header))
	}
	if ms, _ := e.st.ListMFAMethods(ctx, e.userIDs["admin"]); len(ms) != 1 {
		t.Errorf("the admin's methods: %d", len(ms))
	}
}

// TestMFATrustedBrowser: "trust this browser" sets an HttpOnly, SameSite
// cookie with which the person's next sign-in skips the challenge, but
// not a step-up; not for another person; not once forgotten.
func TestMFATrustedBrowser(t *testing.T) {
	e := newMFAEnv(t)
	secret, _ := e.enrolTOTP(e.sessions["admin"])
	e.enrolTOTP(e.sessions["viewer"])
	s := e.startSession("admin@example.com", authn.KindWeb)
	r := e.prove(e.get("/mfa/challenge?return_to=%2Faccount", s), s, e.code(secret), "trust", "1")
	if r.status != 303 || location(r) != "/account" {
		t.Fatalf("challenge: %d %q\n%s", r.status, location(r), r.body)
	}
	var trust *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "rgw_trusted" {
			trust = c
		}
	}
	if trust == nil || !trust.HttpOnly || trust.SameSite != http.SameSiteLaxMode || trust.Path != "/" ||
		trust.MaxAge < 29*24*3600 || trust.MaxAge > 30*24*3600+60 {
		t.Fatalf("trusted cookie: %+v", trust)
	}
	if acct := e.get("/account", s); !strings.Contains(acct.body, "test-browser") || !strings.Contains(acct.body, "/forget") {
		t.Errorf("the account page does not list the trusted browser")
	}

	// A later sign-in from that browser: no challenge, but step-up asks.
	e.clk.Advance(time.Hour)
	s2 := e.startSession("admin@example.com", authn.KindWeb)
	if r := e.do("GET", "/account", s2, nil, nil, trust); r.status != 200 {
		t.Fatalf("trusted browser's sign-in: %d %q", r.status, location(r))
	}
	if r := e.do("GET", "/users", s2, nil, nil, trust); r.status != 303 || !strings.HasPrefix(location(r), "/mfa/verify?") {
		t.Fatalf("step-up from a trusted browser: %d %q", r.status, location(r))
	}
	if r := e.do("POST", "/users/role", s2, url.Values{"email": {"viewer@example.com"}, "role": {"ops"}}, nil, trust); r.status != 403 ||
		!strings.Contains(r.body, `name="rgw_mfa_code"`) {
		t.Fatalf("action from a trusted browser: %d", r.status)
	}
	// Another person in that browser is asked as usual.
	v := e.startSession("viewer@example.com", authn.KindWeb)
	if r := e.do("GET", "/", v, nil, nil, trust); r.status != 303 || !strings.HasPrefix(location(r), "/mfa/challenge?") {
		t.Fatalf("another person with the cookie: %d %q", r.status, location(r))
	}
	// Forgotten: the challenge again. (Forgetting is not a step-up action.)
	acct := e.do("GET", "/account", s2, nil, nil, trust)
	m := regexp.MustCompile(`action="(/account/mfa/trusted/\d+/forget)"`).FindStringSubmatch(acct.body)
	if m == nil {
		t.Fatalf("no Forget button:\n%s", acct.body)
	}
	if r := e.post(m[1], s2, url.Values{}); r.status != 303 {
		t.Fatalf("forget: %d\n%s", r.status, r.body)
	}
	s3 := e.startSession("admin@example.com", authn.KindWeb)
	if r := e.do("GET", "/", s3, nil, nil, trust); r.status != 303 || !strings.HasPrefix(location(r), "/mfa/challenge?") {
		t.Fatalf("forgotten browser: %d %q", r.status, location(r))
	}
}

// TestMFAAdministration: the users page shows each user's factors and a
// lockout; an admin unlocks (after a step-up) and resets another user,
// whose sessions end.
func TestMFAAdministration(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	adm := e.sessions["admin"]
	secret, _ := e.enrolTOTP(adm)
	e.enrolTOTP(e.sessions["ops"])
	ops := e.startSession("ops@example.com", authn.KindWeb)
	for range 3 {
		e.post("/mfa/challenge", ops, url.Values{"rgw_mfa_code": {"222222"}})
	}
	page := e.get("/users", adm)
	row := regexp.MustCompile(`(?s)<td>ops@example.com.*?</tr>`).FindString(page.body)
	if page.status != 200 || !strings.Contains(row, "1 method") || !strings.Contains(row, `<span class="badge bad">locked</span>`) ||
		!strings.Contains(row, `action="/users/mfa/unlock"`) || !strings.Contains(row, `action="/users/mfa/reset"`) {
		t.Fatalf("users page row: %d\n%s", page.status, row)
	}
	if row := regexp.MustCompile(`(?s)<td>viewer@example.com.*?</tr>`).FindString(page.body); !strings.Contains(row, "none") ||
		strings.Contains(row, "/users/mfa/reset") {
		t.Errorf("viewer row: %s", row)
	}
	e.age(adm)
	r := e.post("/users/mfa/unlock", adm, url.Values{"email": {"ops@example.com"}})
	r = e.prove(r, adm, e.code(secret))
	if r.status != 303 || !strings.Contains(flashText(t, r.header), "Unlocked") {
		t.Fatalf("unlock: %d\n%s", r.status, r.body)
	}
	if st, _ := e.mfa.UserStatus(ctx, e.actor(adm), "ops@example.com"); st == nil || st.Locked {
		t.Fatalf("still locked: %+v", st)
	}
	if r := e.post("/users/mfa/reset", adm, url.Values{"email": {"ops@example.com"}}); r.status != 303 ||
		!strings.Contains(flashText(t, r.header), "Reset the second factors") {
		t.Fatalf("reset: %d\n%s", r.status, r.body)
	}
	if ms, _ := e.st.ListMFAMethods(ctx, e.userIDs["ops"]); len(ms) != 0 {
		t.Errorf("ops's methods after reset: %d", len(ms))
	}
	if r := e.get("/", ops); r.status != 303 || !strings.HasPrefix(location(r), "/auth/signin") {
		t.Errorf("ops's session after reset: %d %q", r.status, location(r))
	}
	// Viewers may not: a refusal, not a step-up.
	e.enrolTOTP(e.sessions["viewer"])
	if r := e.post("/users/mfa/reset", e.sessions["viewer"], url.Values{"email": {"admin@example.com"}}); r.status != 403 ||
		!strings.Contains(r.body, "Permission denied") {
		t.Errorf("viewer resetting: %d\n%s", r.status, r.body)
	}
}

// TestMFAAccountAndPolicyPages: the account page's second factors (the
// window, removal with a step-up) and the policy page's matrix.
func TestMFAAccountAndPolicyPages(t *testing.T) {
	e := newMFAEnv(t)
	s := e.sessions["deployer"]
	secret, _ := e.enrolTOTP(s)
	acct := e.get("/account", s)
	if acct.status != 200 || !strings.Contains(acct.body, "Second factors") || !strings.Contains(acct.body, "left of 10 minutes") ||
		!strings.Contains(acct.body, `href="/mfa/verify?return_to=%2Faccount"`) {
		t.Fatalf("account: %d\n%s", acct.status, acct.body)
	}
	m := regexp.MustCompile(`action="(/account/mfa/methods/\d+/remove)"`).FindStringSubmatch(acct.body)
	if m == nil {
		t.Fatal("no Remove button")
	}
	e.age(s)
	if r := e.get("/account", s); !strings.Contains(r.body, "closed") {
		t.Errorf("the window is not shown closed")
	}
	r := e.post(m[1], s, url.Values{})
	if r.status != 403 || !strings.Contains(r.body, `action="`+m[1]+`"`) {
		t.Fatalf("remove without a step-up: %d\n%s", r.status, r.body)
	}
	if r := e.prove(r, s, e.code(secret)); r.status != 303 || !strings.Contains(flashText(t, r.header), "Removed") {
		t.Fatalf("remove: %d\n%s", r.status, r.body)
	}
	// Without a factor, the person is sent to enrol again.
	if r := e.get("/account", s); r.status != 303 || !strings.HasPrefix(location(r), "/account/mfa/enrol?") {
		t.Errorf("after removing the only factor: %d %q", r.status, location(r))
	}

	v := e.sessions["viewer"]
	e.enrolTOTP(v)
	p := e.get("/policy", v)
	if p.status != 200 || !strings.Contains(p.body, "<code>gateway:users</code>") || !strings.Contains(p.body, "within the step-up window") ||
		!strings.Contains(p.body, "on that very request") || !strings.Contains(p.body, "<strong>10 minutes</strong>") ||
		!strings.Contains(p.body, `<th class="mine">viewer</th>`) || !strings.Contains(p.body, `href="/policy"`) {
		t.Fatalf("policy page: %d\n%s", p.status, p.body)
	}
	if scriptRE.MatchString(p.body) || p.header.Get("Content-Security-Policy") != wantCSP {
		t.Error("the policy page has a script")
	}
}

// actor is the session's principal as the MFA service's actor.
func (e *env) actor(session string) mfa.Actor {
	e.t.Helper()
	res, err := e.authn.AuthenticateToken(context.Background(), session)
	if err != nil || res.Principal == nil {
		e.t.Fatal(err)
	}
	return mfa.Actor{Principal: res.Principal}
}

// TestMFAVerifiesTerminalSignIn: the page a CLI session's person opens to
// verify it in the browser (for a passkey, which a terminal cannot use):
// a proof there completes the request, once, and only the same person's.
func TestMFAVerifiesTerminalSignIn(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	secret, _ := e.enrolTOTP(e.sessions["admin"])
	e.enrolTOTP(e.sessions["viewer"])
	cli := e.startSession("admin@example.com", authn.KindCLI)
	id, err := e.mfa.StartBrowserVerification(ctx, e.actor(cli))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.get("/mfa/cli/"+id, e.sessions["viewer"]); r.status == 200 && strings.Contains(r.body, "rgw_mfa_code") {
		t.Fatalf("another person's request is offered: %d", r.status)
	}
	page := e.get("/mfa/cli/"+id, e.sessions["admin"])
	if page.status != 200 || !strings.Contains(page.body, "Verify a terminal sign-in") {
		t.Fatalf("page: %d\n%s", page.status, page.body)
	}
	if r := e.prove(page, e.sessions["admin"], "000000"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.status)
	}
	if r := e.prove(page, e.sessions["admin"], e.code(secret)); r.status != 200 || !strings.Contains(r.body, "return to your terminal") {
		t.Fatalf("verified: %d\n%s", r.status, r.body)
	}
	req, err := e.mfa.BrowserVerification(ctx, e.actor(cli), id)
	if err != nil || !req.Done {
		t.Fatalf("the request after the page: %+v %v", req, err)
	}
	if r := e.get("/mfa/cli/"+id, e.sessions["admin"]); !strings.Contains(r.body, "Already verified") {
		t.Errorf("a second visit: %d", r.status)
	}
}

// TestMFAOfferedNotRequired: with second factors offered but not
// required, nothing is gated; a person may still enrol, and the account
// page shows their factors.
func TestMFAOfferedNotRequired(t *testing.T) {
	e := newEnvWith(t, mfaOffered, "dev")
	s := e.sessions["admin"]
	for _, p := range []string{"/racks/dev", "/users", "/account", "/policy"} {
		if r := e.get(p, s); r.status != 200 {
			t.Errorf("GET %s: %d %q", p, r.status, location(r))
		}
	}
	if r := e.post("/users/role", s, url.Values{"email": {"viewer@example.com"}, "role": {"ops"}}); r.status != 303 || location(r) != "/users" {
		t.Errorf("action: %d %q", r.status, location(r))
	}
	if r := e.get("/policy", s); !strings.Contains(r.body, "not required") || strings.Contains(r.body, "within the step-up window") {
		t.Errorf("policy page says second factors are required")
	}
	_, done := e.enrolTOTP(s)
	if done.status != 200 || len(codesRE.FindAllString(done.body, -1)) != 10 {
		t.Fatalf("enrolment: %d", done.status)
	}
	if r := e.get("/account", s); !strings.Contains(r.body, "<td>phone</td>") {
		t.Errorf("account page lacks the factor")
	}
	if r := e.get("/mfa/challenge?return_to=%2Fusers", s); r.status != 303 || location(r) != "/users" {
		t.Errorf("challenge when not required: %d %q", r.status, location(r))
	}
}
