package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// viewEvents are the audit events of actor since the env began, flushed.
func (e *env) events(actor string) []chain.Event {
	e.t.Helper()
	e.flush()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Actor: actor, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// viewReads are the reads a console.view event names.
func viewReads(t *testing.T, ev chain.Event) []string {
	t.Helper()
	var d struct {
		Page  string
		Reads []string
	}
	if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
		t.Fatalf("details %q: %v", ev.Details, err)
	}
	return d.Reads
}

// TestPageViewIsOneEvent: an app page view makes five rack reads through
// the proxy and writes one audit event naming them; a build page's view
// names its log stream too.
func TestPageViewIsOneEvent(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/racks/dev/apps/myapp", e.sessions["viewer"]); r.status != 200 {
		t.Fatalf("app page: %d", r.status)
	}
	evs := e.events("viewer@example.com")
	if len(evs) != 1 || evs[0].Action != "console.view" || evs[0].Decision != "allow" || evs[0].App != "myapp" ||
		evs[0].Path != "/racks/dev/apps/myapp" || evs[0].Rack != "dev" || evs[0].Role != "viewer" {
		t.Fatalf("events of one app page view: %+v", evs)
	}
	reads := viewReads(t, evs[0])
	slices.Sort(reads)
	want := []string{"/apps/myapp", "/apps/myapp/builds", "/apps/myapp/processes", "/apps/myapp/releases", "/apps/myapp/services"}
	if !slices.Equal(reads, want) {
		t.Errorf("the view names %v, want %v", reads, want)
	}
	if r := e.get("/racks/dev/apps/myapp/builds/BMYAPPSECND", e.sessions["viewer"]); r.status != 200 {
		t.Fatalf("build page: %d", r.status)
	}
	evs = e.events("viewer@example.com")
	if len(evs) != 2 || !slices.Contains(viewReads(t, evs[0]), "/apps/myapp/builds/BMYAPPSECND/logs") {
		t.Errorf("build page view: %+v", evs)
	}
}

// TestDeniedReadsStillAudited: a viewer bound to a role with no rights on
// the rack sees "Permission denied" in each section, and every refused
// read is its own deny event beside the view's.
func TestDeniedReadsStillAudited(t *testing.T) {
	e := newEnv(t)
	if err := e.st.SetRoleBinding(context.Background(), store.RoleBinding{UserID: e.userIDs["viewer"], Rack: "dev", Role: "nobody"}); err != nil {
		t.Fatal(err)
	}
	e.authn.Invalidate()
	r := e.get("/racks/dev/apps/myapp", e.sessions["viewer"])
	if r.status != 200 || strings.Count(r.body, "Permission denied") < 5 {
		t.Fatalf("app page with no rights: %d\n%s", r.status, r.body)
	}
	var denied []string
	views := 0
	for _, ev := range e.events("viewer@example.com") {
		switch {
		case ev.Decision == "deny":
			denied = append(denied, ev.Route)
		case ev.Action == "console.view":
			views++
			if n := len(viewReads(t, ev)); n != 0 {
				t.Errorf("the view names %d reads, but all were refused", n)
			}
		default:
			t.Errorf("unexpected event %+v", ev)
		}
	}
	slices.Sort(denied)
	if want := []string{"AppGet", "BuildList", "ProcessList", "ReleaseList", "ServiceList"}; !slices.Equal(denied, want) || views != 1 {
		t.Errorf("denied %v (want %v), views %d", denied, want, views)
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

func hrefs(body string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestActionLinksByRole: the app and release pages link an action only
// where the role's policy allows the rack call behind it; every role here
// may read logs.
func TestActionLinksByRole(t *testing.T) {
	e := newEnv(t)
	base := "/racks/dev/apps/myapp"
	links := map[string]string{
		"logs":    base + "/logs",
		"env":     base + "/env",
		"restart": base + "/actions/restart",
		"scale":   base + "/actions/scale?service=web",
		"stop":    base + "/actions/stop?process=web-5d8f9c7b6b-x2x7k",
		"promote": base + "/actions/promote?release=RMYAPPFIRST",
	}
	want := map[string][]string{
		"viewer":   {"env", "logs"},
		"ops":      {"env", "logs", "restart", "scale", "stop"},
		"deployer": {"env", "logs", "promote", "restart", "scale", "stop"},
		"admin":    {"env", "logs", "promote", "restart", "scale", "stop"},
	}
	for role, names := range want {
		t.Run(role, func(t *testing.T) {
			r := e.get(base, e.sessions[role])
			rel := e.get(base+"/releases/RMYAPPFIRST", e.sessions[role])
			got := append(hrefs(r.body), hrefs(rel.body)...)
			var have []string
			for name, link := range links {
				if slices.Contains(got, strings.ReplaceAll(link, "&", "&amp;")) {
					have = append(have, name)
				}
			}
			slices.Sort(have)
			if !slices.Equal(have, names) {
				t.Errorf("%s is offered %v, want %v", role, have, names)
			}
			// The current release is never offered for promotion.
			if strings.Contains(r.body, "promote?release=RMYAPPSECND") {
				t.Error("the current release is offered for promotion")
			}
		})
	}
}

// TestWhoDeployed: a promotion through the gateway names its person on
// the app, release and rack pages.
func TestWhoDeployed(t *testing.T) {
	e := newEnv(t)
	res := e.do("POST", "/racks/dev/apps/myapp/releases/RMYAPPFIRST/promote", "", nil,
		map[string]string{"Authorization": "Bearer " + e.sessions["deployer"]})
	if res.status != 200 {
		t.Fatalf("promote through the gateway: %d %s", res.status, res.body)
	}
	e.flush()
	for _, path := range []string{"/racks/dev/apps/myapp", "/racks/dev/apps/myapp/releases/RMYAPPFIRST", "/racks/dev"} {
		if r := e.get(path, e.sessions["viewer"]); !strings.Contains(r.body, "deployer@example.com") {
			t.Errorf("%s does not name who deployed:\n%s", path, r.body)
		}
	}
}

// TestRackPageFilterAndPages: 60 more apps; 50 a page, a filter, links
// between pages that keep the filter.
func TestRackPageFilterAndPages(t *testing.T) {
	e := newEnv(t)
	for i := range 60 {
		req, _ := http.NewRequest("POST", e.rackURL+"/apps", strings.NewReader(url.Values{"name": {fmt.Sprintf("svc-%02d", i)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("convox", "pw")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("creating an app: %v %v", err, res)
		}
		res.Body.Close()
	}
	count := func(body string) int {
		return len(regexp.MustCompile(`<td><a href="/racks/dev/apps/[^"/]+">`).FindAllString(body, -1))
	}
	cases := []struct {
		path       string
		apps       int
		has, lacks []string
	}{
		{"/racks/dev", 50, []string{"62 app(s)", "page 1 of 2", `href="/racks/dev?page=2"`, "/apps/blog\""}, []string{"rel=\"prev\"", "svc-59"}},
		{"/racks/dev?page=2", 12, []string{"page 2 of 2", `href="/racks/dev"`, "svc-59"}, []string{"rel=\"next\""}},
		{"/racks/dev?page=99", 12, []string{"page 2 of 2"}, nil},
		{"/racks/dev?q=SVC-1", 10, []string{"10 app(s) matching", "svc-10", "svc-19"}, []string{"svc-20", "myapp\"", "page 1"}},
		{"/racks/dev?q=svc&page=2", 10, []string{`href="/racks/dev?q=svc"`, "svc-59"}, nil},
		{"/racks/dev?q=%3Cscript%3E", 0, []string{"No app matches", "&lt;script&gt;"}, []string{"<script>"}},
	}
	for _, c := range cases {
		r := e.get(c.path, e.sessions["viewer"])
		if r.status != 200 || count(r.body) != c.apps {
			t.Errorf("%s: %d, %d apps, want %d", c.path, r.status, count(r.body), c.apps)
		}
		for _, s := range c.has {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s lacks %q", c.path, s)
			}
		}
		for _, s := range c.lacks {
			if strings.Contains(r.body, s) {
				t.Errorf("%s has %q", c.path, s)
			}
		}
	}
}

// TestEnvMaskedAndRevealed: the env page lists keys with every value
// masked; the reveal shows values as the proxy filters them for the
// person (none without env:read, secrets masked without secret:read); no
// value reaches the audit log; bad names are refused before any read.
func TestEnvMaskedAndRevealed(t *testing.T) {
	e := newEnv(t)
	env := "/racks/dev/apps/myapp/env"
	cases := []struct {
		role        string
		page, shown []string // on the page; after reveal
		hidden      []string // after reveal
		form        bool
	}{
		{"viewer", []string{"env:read"}, []string{"Permission denied"}, []string{"PORT", "3000"}, false},
		{"deployer", []string{"DATABASE_URL", "SECRET_KEY_BASE", "PORT"}, []string{"3000", "DATABASE_URL", "********"}, []string{"secretpw", "9f86d081884c"}, true},
		{"admin", []string{"DATABASE_URL", "SECRET_KEY_BASE", "PORT"}, []string{"3000", "secretpw", "9f86d081884c"}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.role, func(t *testing.T) {
			s := e.sessions[c.role]
			r := e.get(env, s)
			if r.status != 200 || strings.Contains(r.body, "secretpw") || strings.Contains(r.body, "3000") {
				t.Fatalf("env page: %d\n%s", r.status, r.body)
			}
			for _, x := range c.page {
				if !strings.Contains(r.body, x) {
					t.Errorf("env page lacks %q", x)
				}
			}
			if got := strings.Contains(r.body, `action="`+env+`/reveal"`); got != c.form {
				t.Errorf("reveal form offered: %v, want %v", got, c.form)
			}
			v := e.post(env+"/reveal", s, url.Values{})
			if v.status != 200 || v.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("reveal: %d %q", v.status, v.header.Get("Cache-Control"))
			}
			for _, x := range c.shown {
				if !strings.Contains(v.body, x) {
					t.Errorf("revealed page lacks %q", x)
				}
			}
			for _, x := range c.hidden {
				if strings.Contains(v.body, x) {
					t.Errorf("revealed page shows %q", x)
				}
			}
		})
	}
	// No value in the audit log, and one event per view.
	for _, role := range []string{"viewer", "deployer", "admin"} {
		for _, ev := range e.events(role + "@example.com") {
			if strings.Contains(ev.Details, "secretpw") || strings.Contains(ev.Details, "3000") {
				t.Errorf("a value in the audit log: %+v", ev)
			}
			if ev.Action != "console.view" {
				t.Errorf("an event besides the views: %+v", ev)
			}
		}
	}
	// Bad input: a name no rack has, refused before any read.
	for _, p := range []string{"/racks/dev/apps/..%2F..%2Fsystem", "/racks/dev/apps/a%3Cb/env", "/racks/dev/apps/myapp/builds/B%20X",
		"/racks/nosuch/apps/myapp"} {
		if r := e.get(p, e.sessions["admin"]); r.status != 404 {
			t.Errorf("%s: %d, want 404", p, r.status)
		}
	}
	if r := e.post("/racks/dev/apps/a%3Cb/env/reveal", e.sessions["admin"], url.Values{}); r.status != 404 {
		t.Errorf("reveal of a bad name: %d", r.status)
	}
}

// TestEnvRevealNeedsStepUp: with second factors, an admin's reveal asks
// for a recent one first (no value shown), then shows the values.
func TestEnvRevealNeedsStepUp(t *testing.T) {
	e := newMFAEnv(t)
	adm := e.sessions["admin"]
	secret, _ := e.enrolTOTP(adm)
	e.age(adm)
	env := "/racks/dev/apps/myapp/env"
	r := e.post(env+"/reveal", adm, url.Values{})
	if r.status != http.StatusForbidden || strings.Contains(r.body, "secretpw") || !strings.Contains(r.body, `action="`+env+`/reveal"`) {
		t.Fatalf("reveal without a recent factor: %d\n%s", r.status, r.body)
	}
	done := e.prove(r, adm, e.code(secret))
	if done.status != 200 || !strings.Contains(done.body, "secretpw") {
		t.Fatalf("reveal after the factor: %d\n%s", done.status, done.body)
	}
}

// hostileRack answers like a rack whose data is an attack on the console:
// names, descriptions, env keys and build logs with markup and
// javascript: URLs. The rest is the simulated rack.
func hostileRack() http.Handler {
	sim := simrack.New(simrack.Config{Password: "pw"}).Handler()
	up := websocket.Upgrader{}
	js := func(w http.ResponseWriter, v string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(v))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apps":
			js(w, `[{"name":"<script>alert(1)</script>","status":"<img src=x onerror=alert(1)>","release":"javascript:alert(1)"},
				{"name":"javascript:alert(2)","status":"running","release":"R1"},{"name":"myapp","status":"running","release":"REVIL"}]`)
		case "/apps/myapp":
			js(w, `{"name":"myapp","status":"<b>running</b>","release":"REVIL","generation":"<i>2</i>"}`)
		case "/apps/myapp/builds":
			js(w, `[{"id":"BEVIL","status":"complete","description":"<script>alert(3)</script>","release":"javascript:alert(4)"}]`)
		case "/apps/myapp/builds/BEVIL":
			js(w, `{"id":"BEVIL","status":"complete","description":"<script>alert(3)</script>","release":"REVIL"}`)
		case "/apps/myapp/releases":
			js(w, `[{"id":"REVIL","build":"javascript:alert(5)","description":"<svg onload=alert(6)>"}]`)
		case "/apps/myapp/releases/REVIL":
			js(w, `{"id":"REVIL","build":"BEVIL","env":"<script>alert(7)</script>=x\nK=<img src=x onerror=alert(8)>","description":"<svg onload=alert(6)>"}`)
		case "/apps/myapp/services":
			js(w, `[{"name":"<script>alert(9)</script>","count":1,"domain":"javascript:alert(10)"}]`)
		case "/apps/myapp/builds/BEVIL/logs":
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.WriteMessage(websocket.TextMessage, []byte("step 1\n</pre><script>alert(11)</script><a href=\"javascript:alert(12)\">x</a>\n"))
			_ = c.WriteMessage(websocket.BinaryMessage, nil)
		default:
			sim.ServeHTTP(w, r)
		}
	})
}

// activeRE finds markup the console must never emit from rack data.
var activeRE = regexp.MustCompile(`(?i)<(script|img|svg|b|i)[\s>]|<[^>]*\son\w+=|(href|src)="\s*javascript:`)

// TestHostileRackDataIsInert: every page renders rack data as escaped
// text, and links built from it stay on the console's own paths.
func TestHostileRackDataIsInert(t *testing.T) {
	e := newEnvRack(t, mfaOff, nil, hostileRack(), "dev")
	for _, p := range []string{"/racks/dev", "/racks/dev/apps/myapp", "/racks/dev/apps/myapp/builds/BEVIL",
		"/racks/dev/apps/myapp/releases/REVIL", "/racks/dev/apps/myapp/env"} {
		r := e.get(p, e.sessions["admin"])
		if r.status != 200 {
			t.Errorf("%s: %d\n%s", p, r.status, r.body)
			continue
		}
		if m := activeRE.FindString(r.body); m != "" {
			t.Errorf("%s renders rack data as markup (%q)", p, m)
		}
		if !strings.Contains(r.body, "&lt;script&gt;alert(") && !strings.Contains(r.body, "&lt;svg onload=alert(6)&gt;") {
			t.Errorf("%s does not show the rack's text escaped", p)
		}
		for _, h := range hrefs(r.body) {
			if !strings.HasPrefix(h, "/") || strings.HasPrefix(h, "//") {
				t.Errorf("%s links off the console: %q", p, h)
			}
		}
		if r.header.Get("Content-Security-Policy") != wantCSP {
			t.Errorf("%s: CSP %q", p, r.header.Get("Content-Security-Policy"))
		}
	}
	r := e.get("/racks/dev/apps/myapp/builds/BEVIL", e.sessions["admin"])
	if !strings.Contains(r.body, `<pre class="logs">step 1`) || !strings.Contains(r.body, "&lt;/pre&gt;&lt;script&gt;alert(11)") {
		t.Errorf("build logs not shown as escaped text:\n%s", r.body)
	}
	v := e.post("/racks/dev/apps/myapp/env/reveal", e.sessions["admin"], url.Values{})
	if m := activeRE.FindString(v.body); m != "" || !strings.Contains(v.body, "&lt;img src=x onerror=alert(8)&gt;") {
		t.Errorf("revealed env not escaped (%q)", m)
	}
	// The app named like a script links to its escaped path.
	r = e.get("/racks/dev", e.sessions["admin"])
	if !strings.Contains(r.body, `href="/racks/dev/apps/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`) {
		t.Errorf("hostile app link:\n%s", r.body)
	}
}

// A signed-out browser opening a rack page (a navigation: GET accepting
// HTML) is sent to the sign-in with the way back.
func TestSignedOutRackPageGoesToSignIn(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/racks/dev/apps/myapp", "", nil, map[string]string{"Accept": "text/html,*/*;q=0.8"})
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther ||
		loc != "/auth/signin?return_to=%2Fracks%2Fdev%2Fapps%2Fmyapp" {
		t.Fatalf("signed out: %d %q", r.status, loc)
	}
}
