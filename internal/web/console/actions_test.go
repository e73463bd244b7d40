package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// stateTokens are the admin API tokens rackJSON reads with, by env.
var stateTokens sync.Map

// rackJSON reads a rack API path through the gateway's rack API with an
// admin's API token, as the CLI would (to check the rack's state).
func (e *env) rackJSON(path string, out any) {
	e.t.Helper()
	tok, _ := stateTokens.Load(e)
	if tok == nil {
		created, err := e.admin.CreateToken(context.Background(), admin.Actor{System: "test"},
			admin.TokenRequest{Name: "state", Owner: "admin@example.com"})
		if err != nil {
			e.t.Fatal(err)
		}
		tok = created.Token
		stateTokens.Store(e, tok)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/racks/dev"+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		e.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		e.t.Fatal(err)
	}
}

type svc struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func (e *env) serviceCount(app, name string) int {
	e.t.Helper()
	var ss []svc
	e.rackJSON("/apps/"+app+"/services", &ss)
	for _, s := range ss {
		if s.Name == name {
			return s.Count
		}
	}
	e.t.Fatalf("no service %s", name)
	return 0
}

func (e *env) currentRelease(app string) string {
	e.t.Helper()
	var a struct {
		Release string `json:"release"`
	}
	e.rackJSON("/apps/"+app, &a)
	return a.Release
}

func (e *env) processIDs(app string) []string {
	e.t.Helper()
	var ps []struct {
		Id string `json:"id"`
	}
	e.rackJSON("/apps/"+app+"/processes", &ps)
	var out []string
	for _, p := range ps {
		out = append(out, p.Id)
	}
	return out
}

// rackEvents are the audited rack calls of one route by actor.
func (e *env) rackEvents(actor, route string) []chain.Event {
	e.t.Helper()
	e.flush()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Actor: actor, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []chain.Event
	for _, ev := range evs {
		if ev.Route == route {
			out = append(out, ev)
		}
	}
	return out
}

const appBase = "/racks/dev/apps/myapp"

// TestActionsByRole: each role sees the confirmation page of exactly the
// actions its role grants (403 otherwise, before anything is read), and a
// post is decided by the proxy and audited as the same CLI call would be.
func TestActionsByRole(t *testing.T) {
	e := newEnv(t)
	procs := e.processIDs("myapp")
	if len(procs) == 0 {
		t.Fatal("myapp has no processes")
	}
	actions := []struct {
		name, path string
		form       url.Values
		route      string
		allowed    map[string]bool
	}{
		{"restart", appBase + "/actions/restart?service=web", url.Values{}, "ServiceRestart",
			map[string]bool{"viewer": false, "ops": true, "deployer": true, "admin": true}},
		{"restart all", appBase + "/actions/restart", url.Values{}, "ServiceRestart",
			map[string]bool{"viewer": false, "ops": true, "deployer": true, "admin": true}},
		{"scale", appBase + "/actions/scale?service=web", url.Values{"count": {"3"}}, "ServiceUpdate",
			map[string]bool{"viewer": false, "ops": true, "deployer": true, "admin": true}},
		{"promote", appBase + "/actions/promote?release=RMYAPPFIRST", url.Values{}, "ReleasePromote",
			map[string]bool{"viewer": false, "ops": false, "deployer": true, "admin": true}},
		{"stop", appBase + "/actions/stop?process=" + procs[0], url.Values{}, "ProcessStop",
			map[string]bool{"viewer": false, "ops": true, "deployer": true, "admin": true}},
	}
	for _, a := range actions {
		for _, role := range []string{"viewer", "ops", "deployer", "admin"} {
			t.Run(a.name+" "+role, func(t *testing.T) {
				r := e.get(a.path, e.sessions[role])
				want := http.StatusForbidden
				if a.allowed[role] {
					want = http.StatusOK
				}
				if r.status != want {
					t.Fatalf("GET %s as %s: %d, want %d\n%s", a.path, role, r.status, want, r.body)
				}
				if want == http.StatusForbidden {
					if !strings.Contains(r.body, "Permission denied") || strings.Contains(r.body, `id="action-form"`) {
						t.Errorf("refused page: %s", r.body)
					}
					return
				}
				if !strings.Contains(r.body, `<form method="post" action="`+strings.ReplaceAll(a.path, "&", "&amp;")+`"`) {
					t.Errorf("confirmation page lacks its form posting to itself:\n%s", r.body)
				}
			})
		}
	}
	// The viewer's post goes to the proxy, which refuses and audits it as
	// the CLI's would be: the same route, permission and reason.
	r := e.post(appBase+"/actions/restart?service=web", e.sessions["viewer"], url.Values{})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "not done") || !strings.Contains(r.body, "service:restart") {
		t.Fatalf("viewer restart: %d\n%s", r.status, r.body)
	}
	evs := e.rackEvents("viewer@example.com", "ServiceRestart")
	if len(evs) != 1 || evs[0].Decision != "deny" || evs[0].Reason != "missing_permission" || evs[0].Permission != "service:restart" {
		t.Fatalf("viewer restart audited as %+v", evs)
	}
	// Ops may not promote: refused by the proxy as well.
	before := e.currentRelease("myapp")
	r = e.post(appBase+"/actions/promote?release=RMYAPPFIRST", e.sessions["ops"], url.Values{})
	if r.status != http.StatusForbidden || e.currentRelease("myapp") != before {
		t.Fatalf("ops promote: %d (release %s → %s)\n%s", r.status, before, e.currentRelease("myapp"), r.body)
	}
}

// TestActionsPerform: ops restarts and scales and stops, a deployer rolls
// back; each is carried out, shows what changed with a link back to the
// app, and is audited exactly like the CLI's call (route, permission,
// actor, allowed, write-ahead attempt and outcome).
func TestActionsPerform(t *testing.T) {
	e := newEnv(t)
	ops, dep := e.sessions["ops"], e.sessions["deployer"]

	r := e.post(appBase+"/actions/scale?service=web", ops, url.Values{"count": {"4"}})
	if r.status != 200 || !strings.Contains(r.body, "scale service web from 2 to 4 processes") ||
		!strings.Contains(r.body, `href="/racks/dev/apps/myapp"`) {
		t.Fatalf("scale: %d\n%s", r.status, r.body)
	}
	if n := e.serviceCount("myapp", "web"); n != 4 {
		t.Errorf("web scaled to %d, want 4", n)
	}
	evs := e.rackEvents("ops@example.com", "ServiceUpdate")
	if len(evs) == 0 {
		t.Fatal("the scale was not audited")
	}
	var allowed int
	for _, ev := range evs {
		if ev.Decision == "allow" && ev.Permission == "service:scale" && ev.Method == "PUT" && ev.Path == "/apps/myapp/services/web" &&
			ev.ActorType == "user" && ev.App == "myapp" && ev.Rack == "dev" {
			allowed++
		}
	}
	if allowed < 2 { // the write-ahead attempt and the outcome
		t.Errorf("scale audited as %+v", evs)
	}

	r = e.post(appBase+"/actions/restart", ops, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, "restart service web") || !strings.Contains(r.body, "restart service worker") {
		t.Fatalf("restart all: %d\n%s", r.status, r.body)
	}
	if evs := e.rackEvents("ops@example.com", "ServiceRestart"); len(evs) < 2 {
		t.Errorf("restart audited %d times", len(evs))
	}

	pid := e.processIDs("myapp")[0]
	r = e.post(appBase+"/actions/stop?process="+pid, ops, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, "stop process "+pid) {
		t.Fatalf("stop: %d\n%s", r.status, r.body)
	}
	for _, p := range e.processIDs("myapp") {
		if p == pid {
			t.Errorf("process %s still there", pid)
		}
	}
	if evs := e.rackEvents("ops@example.com", "ProcessStop"); len(evs) == 0 || evs[0].Permission != "process:stop" {
		t.Errorf("stop audited as %+v", evs)
	}

	// A rollback: the confirmation says so; the post promotes.
	if cur := e.currentRelease("myapp"); cur != "RMYAPPSECND" {
		t.Fatalf("current release %s", cur)
	}
	c := e.get(appBase+"/actions/promote?release=RMYAPPFIRST", dep)
	if c.status != 200 || !strings.Contains(c.body, "This is a rollback") || !strings.Contains(c.body, "Roll back to RMYAPPFIRST") {
		t.Fatalf("rollback confirmation: %d\n%s", c.status, c.body)
	}
	if f := e.get(appBase+"/actions/promote?release=RMYAPPSECND", dep); strings.Contains(f.body, "This is a rollback") {
		t.Errorf("promoting the current release is called a rollback")
	}
	r = e.post(appBase+"/actions/promote?release=RMYAPPFIRST", dep, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, "promote release RMYAPPFIRST") {
		t.Fatalf("rollback: %d\n%s", r.status, r.body)
	}
	if cur := e.currentRelease("myapp"); cur != "RMYAPPFIRST" {
		t.Errorf("current release after the rollback: %s", cur)
	}
	if evs := e.rackEvents("deployer@example.com", "ReleasePromote"); len(evs) == 0 || evs[0].Decision != "allow" ||
		evs[0].Permission != "release:promote" {
		t.Errorf("promote audited as %+v", evs)
	}
}

// TestActionsHostileInput: ids that are not the rack's, path tricks and
// oversized values get a clear 400 and nothing reaches the rack.
func TestActionsHostileInput(t *testing.T) {
	e := newEnv(t)
	adm := e.sessions["admin"]
	long := strings.Repeat("a", 5000)
	cases := []struct {
		path string
		form url.Values // set: the form is wrong, POST only
		want int
	}{
		{appBase + "/actions/restart?service=" + url.QueryEscape("../../system"), nil, 400},
		{appBase + "/actions/restart?service=web%2F..%2F..%2Fsystem", nil, 400},
		{appBase + "/actions/restart?service=web&service=worker", nil, 400},
		{appBase + "/actions/scale", nil, 400},
		{appBase + "/actions/scale?service=web", url.Values{"count": {"-1"}}, 400},
		{appBase + "/actions/scale?service=web", url.Values{"count": {"1001"}}, 400},
		{appBase + "/actions/scale?service=web", url.Values{"count": {"2.5"}}, 400},
		{appBase + "/actions/scale?service=web", url.Values{"count": {"2", "3"}}, 400},
		{appBase + "/actions/scale?service=web", url.Values{}, 400},
		{appBase + "/actions/scale?service=" + long, nil, 400},
		{appBase + "/actions/promote?release=" + url.QueryEscape("RMYAPPFIRST/../../x"), nil, 400},
		{appBase + "/actions/promote?release=%2e%2e", nil, 400},
		{appBase + "/actions/promote", nil, 400},
		{appBase + "/actions/stop?process=" + url.QueryEscape("web-1/../../../system"), nil, 400},
		{appBase + "/actions/stop?process=" + long, nil, 400},
		{appBase + "/actions/stop?process=%3Cscript%3E", nil, 400},
		{"/racks/dev/apps/MyApp%3Cx%3E/actions/restart", nil, 400},
		{"/racks/nosuch/apps/myapp/actions/restart", nil, 404},
		{appBase + "/actions/delete", nil, 404},
		{appBase + "/actions/stop?process=web-nosuch-process", nil, 404},
		{appBase + "/actions/restart?service=nosuch", nil, 404},
	}
	before := e.serviceCount("myapp", "web")
	procs := len(e.processIDs("myapp"))
	for _, c := range cases {
		methods := []string{"GET", "POST"}
		if c.form != nil {
			methods = methods[1:]
		}
		for _, method := range methods {
			form := c.form
			if method == "POST" && form == nil {
				form = url.Values{"count": {"1"}}
			}
			if method == "GET" {
				form = nil
			}
			r := e.do(method, c.path, adm, form, nil)
			if r.status != c.want {
				t.Errorf("%s %.120s: %d, want %d\n%.400s", method, c.path, r.status, c.want, r.body)
			}
			if strings.Contains(r.body, "<script>") || strings.Contains(r.body, long) {
				t.Errorf("%s %.120s echoes its input raw", method, c.path)
			}
		}
	}
	if e.serviceCount("myapp", "web") != before || len(e.processIDs("myapp")) != procs {
		t.Error("a hostile request changed the app")
	}
	for _, route := range []string{"ServiceRestart", "ServiceUpdate", "ReleasePromote", "ProcessStop"} {
		if evs := e.rackEvents("admin@example.com", route); len(evs) != 0 {
			t.Errorf("a hostile request reached the proxy as %s: %+v", route, evs)
		}
	}
}

// TestActionsCrossSiteRefused: another site's form cannot drive an action.
func TestActionsCrossSiteRefused(t *testing.T) {
	e := newEnv(t)
	before := e.serviceCount("myapp", "web")
	r := e.do("POST", appBase+"/actions/scale?service=web", e.sessions["admin"], url.Values{"count": {"0"}},
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden || e.serviceCount("myapp", "web") != before {
		t.Fatalf("cross-site scale: %d, count %d", r.status, e.serviceCount("myapp", "web"))
	}
	if evs := e.rackEvents("admin@example.com", "ServiceUpdate"); len(evs) != 0 {
		t.Errorf("the cross-site post reached the proxy: %+v", evs)
	}
	// The same post from the console's own page works.
	r = e.do("POST", appBase+"/actions/scale?service=web", e.sessions["admin"], url.Values{"count": {"1"}},
		map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.status != 200 || e.serviceCount("myapp", "web") != 1 {
		t.Fatalf("same-origin scale: %d\n%s", r.status, r.body)
	}
}

// TestActionsStepUp: promoting needs a recent second factor; the post is
// answered with the step-up page, which re-posts it and completes it.
func TestActionsStepUp(t *testing.T) {
	e := newMFAEnv(t)
	// The proxy decides on the real time; the second factors here are
	// proved on the fake clock, which the codes move ahead: start it in the
	// past so that a proof is recent, not in the future, for the proxy.
	e.clk.Set(time.Now().Add(-5 * time.Minute))
	dep := e.sessions["deployer"]
	secret, _ := e.enrolTOTP(dep)
	e.age(dep)
	path := appBase + "/actions/promote?release=RMYAPPFIRST"
	if c := e.get(path, dep); c.status != 200 || !strings.Contains(c.body, "Roll back to RMYAPPFIRST") {
		t.Fatalf("confirmation (no step-up needed to look): %d\n%s", c.status, c.body)
	}
	r := e.post(path, dep, url.Values{})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, `action="`+strings.ReplaceAll(path, "&", "&amp;")+`"`) ||
		!strings.Contains(r.body, "rgw_mfa_code") {
		t.Fatalf("promote without a recent factor: %d\n%s", r.status, r.body)
	}
	if cur := e.currentRelease("myapp"); cur != "RMYAPPSECND" {
		t.Fatalf("promoted without the step-up: %s", cur)
	}
	evs := e.rackEvents("deployer@example.com", "ReleasePromote")
	if len(evs) != 1 || evs[0].Reason != "step_up_required" {
		t.Fatalf("the refusal for want of a factor is not audited: %+v", evs)
	}
	done := e.prove(r, dep, e.code(secret))
	if done.status != 200 || !strings.Contains(done.body, "promote release RMYAPPFIRST") {
		t.Fatalf("after the step-up: %d\n%s", done.status, done.body)
	}
	if cur := e.currentRelease("myapp"); cur != "RMYAPPFIRST" {
		t.Errorf("release after the step-up: %s", cur)
	}
	// Actions that need no second factor (ops' scale) are not asked one.
	ops := e.sessions["ops"]
	e.enrolTOTP(ops)
	e.age(ops)
	if r := e.post(appBase+"/actions/scale?service=web", ops, url.Values{"count": {"2"}}); r.status != 200 {
		t.Errorf("scale without a recent factor: %d\n%s", r.status, r.body)
	}
}

// TestActionsEscapeRackContent: what the rack says is shown as text.
func TestActionsEscapeRackContent(t *testing.T) {
	e := newEnv(t)
	r := e.get(appBase+"/actions/promote?release=RMYAPPFIRST", e.sessions["admin"])
	if r.status != 200 || scriptRE.MatchString(r.body) || handlerRE.MatchString(r.body) || styleRE.MatchString(r.body) {
		t.Fatalf("confirmation page: %d\n%s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); csp != wantCSP {
		t.Errorf("confirmation CSP %q", csp)
	}
}
