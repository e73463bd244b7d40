package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
	"github.com/rack-gateway/rack-gateway/internal/web"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

const (
	apCommit = "0123456789abcdef0123456789abcdef01234567"
	// Hostile text, as a CI job may send it.
	apBranch  = "\"><img src=x onerror=alert(1)>main\u202Egnp.exe"
	apMessage = "<script>alert(1)</script>\nsecond line & more"
	apPR      = "https://github.com/o/r/pull/7?a=1&b=%22%3E"
)

// apEnv is newMFAEnv with deploy approvals: deploys of myapp on rack dev
// need one approval by an admin or a deployer; the console and the admin
// API are mounted with the approval service, and the deployer owns a CI
// token (ci).
type apEnv struct {
	*env
	svc *approval.Service
	ci  string
}

func newApprovalEnv(t *testing.T) *apEnv {
	t.Helper()
	e := newMFAEnv(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pol := e.admin.Policy
	rules := approval.Rules{{Rack: "dev", App: "myapp", Needed: 1, ApproverRoles: []string{"admin", "deployer"},
		RequestTTL: time.Hour, Window: 15 * time.Minute}}
	svc := approval.New(e.st, approval.Config{Rules: rules, Racks: []string{"dev"}, PublicURL: "http://console.test",
		Clock: e.clk}, e.audit, pol, nil, nil, log)

	rackSrv := httptest.NewServer(simrack.New(simrack.Config{Password: "pw"}).Handler())
	t.Cleanup(rackSrv.Close)
	cfg := &config.Config{DefaultRack: "dev", Racks: []config.Rack{{Name: "dev", URL: rackSrv.URL, Password: "pw"}}}
	cfg.SetDefaults("127.0.0.1:0")
	px, err := proxy.New(proxy.Options{Config: cfg, Authn: e.authn, Audit: e.audit, Policy: pol, MFA: e.mfa,
		Approvals: svc, Metrics: proxy.NewMetrics(prometheus.NewRegistry()), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Options{Admin: e.admin, Authn: e.authn, Proxy: px, Policy: pol, MFA: e.mfa,
		Approvals: svc, TrustDays: 30, Racks: []string{"dev"}, Version: "test", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ws := &web.Server{Proxy: px, Admin: e.admin, Authn: e.authn, MFA: e.mfa, Approvals: svc, Store: e.st,
		Gatherer: prometheus.NewRegistry(), Log: log, Console: con}
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	e.srv = srv // newMFAEnv's server (without approvals) stays idle

	ct, err := e.admin.CreateToken(context.Background(), admin.Actor{System: "test"},
		admin.TokenRequest{Name: "ci-deploy", Owner: "deployer@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return &apEnv{env: e, svc: svc, ci: ct.Token}
}

// ask posts a deploy approval request as the CI token and returns its id.
func (e *apEnv) ask(in apitypes.DeployRequestInput) int64 {
	e.t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/deploy-approvals", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.ci)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var d apitypes.DeployRequest
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &d) != nil || d.ID == 0 {
		e.t.Fatalf("deploy approval request: %d %s", res.StatusCode, body)
	}
	return d.ID
}

func (e *apEnv) request(id int64) *store.DeployRequest {
	e.t.Helper()
	d, err := e.st.GetDeployRequest(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func hostileInput() apitypes.DeployRequestInput {
	return apitypes.DeployRequestInput{Rack: "dev", App: "myapp", Commit: apCommit, Branch: apBranch,
		PRURL: apPR, CIURL: "https://ci.example/jobs/1", Message: apMessage}
}

const approveForm = `action="/approvals/1/approve"`

// TestApprovalsViewer: a viewer sees the queue and the request, every
// field of it as text, but no form to decide it, and a post of one is
// refused by the service.
func TestApprovalsViewer(t *testing.T) {
	e := newApprovalEnv(t)
	id := e.ask(hostileInput())
	viewer := e.sessions["viewer"]
	e.enrolTOTP(viewer)

	q := e.get("/approvals", viewer)
	if q.status != 200 || !strings.Contains(q.body, `href="/approvals/1"`) || !strings.Contains(q.body, "0 of 1") ||
		!strings.Contains(q.body, apCommit[:12]) || !strings.Contains(q.body, "token ci-deploy of deployer@example.com") ||
		!strings.Contains(q.body, `href="/approvals" class="active"`) {
		t.Fatalf("queue: %d\n%s", q.status, q.body)
	}
	if q.header.Get("Content-Security-Policy") != wantCSP || scriptRE.MatchString(q.body) {
		t.Errorf("queue: CSP %q or a script", q.header.Get("Content-Security-Policy"))
	}
	p := e.get("/approvals/"+strconv.FormatInt(id, 10), viewer)
	if p.status != 200 || !strings.Contains(p.body, apCommit) || !strings.Contains(p.body, "https://ci.example/jobs/1") {
		t.Fatalf("request page: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, approveForm) || strings.Contains(p.body, `action="/approvals/1/reject"`) {
		t.Errorf("the viewer is offered the forms:\n%s", p.body)
	}
	// Still refused by the service, as a permission.
	if r := e.post("/approvals/1/approve", viewer, url.Values{}); r.status != 403 || !strings.Contains(r.body, "Permission denied") ||
		!strings.Contains(r.body, "deploy:approve") {
		t.Errorf("the viewer's approval: %d\n%s", r.status, r.body)
	}
	if d := e.request(id); d.Status != store.DeployPending || len(d.Approvals) != 0 {
		t.Errorf("the viewer changed the request: %+v", d)
	}
	// Filters.
	if r := e.get("/approvals?status=approved", viewer); r.status != 200 || strings.Contains(r.body, `href="/approvals/1"`) {
		t.Errorf("approved filter: %d", r.status)
	}
	if r := e.get("/approvals?status=pending", viewer); r.status != 200 || !strings.Contains(r.body, `href="/approvals/1"`) {
		t.Errorf("pending filter: %d", r.status)
	}
	if r := e.get("/approvals?status=%3Cx%3E", viewer); r.status != 400 || strings.Contains(r.body, "<x>") {
		t.Errorf("a bogus filter: %d", r.status)
	}
	if r := e.get("/approvals/999", viewer); r.status != 404 {
		t.Errorf("an unknown request: %d", r.status)
	}
	// The policy page lists the rule.
	if r := e.get("/policy", viewer); r.status != 200 || !strings.Contains(r.body, `id="approvals"`) ||
		!regexp.MustCompile(`<td><code>dev</code></td><td><code>myapp</code></td><td>1</td><td>admin, deployer</td><td>60 minutes</td><td>15 minutes</td>`).MatchString(r.body) {
		t.Errorf("policy page's rules:\n%s", r.body)
	}
}

// TestApprovalsEscapeHostileText: what a CI job sent is text on every
// page: no markup of it, direction controls made visible, the PR link an
// escaped http(s) link with rel="noopener noreferrer".
func TestApprovalsEscapeHostileText(t *testing.T) {
	e := newApprovalEnv(t)
	e.ask(hostileInput())
	adm := e.sessions["admin"]
	e.enrolTOTP(adm)
	for _, path := range []string{"/approvals", "/approvals/1"} {
		r := e.get(path, adm)
		if r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
		for _, bad := range []string{"<img", "<script", "\u202E"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s has %q unescaped:\n%s", path, bad, r.body)
			}
		}
		if !strings.Contains(r.body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;main\uFFFDgnp.exe") {
			t.Errorf("%s: the branch is not shown as escaped text:\n%s", path, r.body)
		}
		if !strings.Contains(r.body, `<a href="https://github.com/o/r/pull/7?a=1&amp;b=%22%3E" rel="noopener noreferrer">`) {
			t.Errorf("%s: the PR link:\n%s", path, r.body)
		}
	}
	r := e.get("/approvals/1", adm)
	if !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line &amp; more") {
		t.Errorf("the message is not escaped text, line by line:\n%s", r.body)
	}
	// Whatever the store holds, only http(s) URLs become links.
	d := &store.DeployRequest{Rack: "dev", App: "myapp", Commit: apCommit, PRURL: "javascript:alert(1)",
		CIURL: "https://ci.example/\"onclick=\"alert(1)", TokenID: 1, OwnerID: e.userIDs["deployer"], Requester: "x",
		Needed: 1, Window: time.Minute, ExpiresAt: e.clk.Now().Add(time.Hour)}
	if err := e.st.CreateDeployRequest(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	r = e.get("/approvals/"+strconv.FormatInt(d.ID, 10), adm)
	if r.status != 200 || strings.Contains(r.body, "javascript:") || strings.Contains(r.body, "onclick") ||
		strings.Count(r.body, "not given") != 3 {
		t.Errorf("links from unchecked URLs:\n%s", r.body)
	}
}

// TestApprovalsSelfApprovalRefused: the owner of the token that asked is
// told before and refused after proving a second factor, with an error
// on the request's page; nothing changes.
func TestApprovalsSelfApprovalRefused(t *testing.T) {
	e := newApprovalEnv(t)
	id := e.ask(hostileInput())
	owner := e.sessions["deployer"]
	secret, _ := e.enrolTOTP(owner)
	p := e.get("/approvals/1", owner)
	if !strings.Contains(p.body, approveForm) || !strings.Contains(p.body, `id="own-request"`) {
		t.Fatalf("the owner's page: no forms or no warning:\n%s", p.body)
	}
	r := e.post("/approvals/1/approve", owner, url.Values{"comment": {"mine"}})
	if r.status != 403 || hiddenFields(r.body).Get("comment") != "mine" || !strings.Contains(r.body, "with this very request") {
		t.Fatalf("the step-up page: %d\n%s", r.status, r.body)
	}
	done := e.prove(r, owner, e.code(secret))
	if done.status != 303 || location(done) != "/approvals/1" || !strings.Contains(flashText(t, done.header), "err:you own the token that asked") {
		t.Fatalf("self-approval: %d %q %q", done.status, location(done), flashText(t, done.header))
	}
	page := e.do("GET", "/approvals/1", owner, nil, nil, flashCookie(done.header))
	if !strings.Contains(page.body, `<p class="flash error" role="status">you own the token that asked`) {
		t.Errorf("the refusal is not shown on the page:\n%s", page.body)
	}
	if d := e.request(id); d.Status != store.DeployPending || len(d.Approvals) != 0 {
		t.Errorf("the owner changed the request: %+v", d)
	}
}

// TestApprovalsApproveWithStepUp: an approver is asked for a second
// factor on the approval itself (a recent one is not enough), keeps the
// comment, and then approves; the page shows the approval and the
// window, and offers no forms any more. A cross-site post is refused;
// a rejection goes the same way.
func TestApprovalsApproveWithStepUp(t *testing.T) {
	e := newApprovalEnv(t)
	id := e.ask(hostileInput())
	adm := e.sessions["admin"]
	secret, _ := e.enrolTOTP(adm) // a recent factor: not enough

	if x := e.do("POST", "/approvals/1/approve", adm, url.Values{}, map[string]string{"Origin": "https://evil.example",
		"Sec-Fetch-Site": "cross-site"}); x.status != 403 || e.request(id).Status != store.DeployPending {
		t.Fatalf("cross-site approval: %d", x.status)
	}
	r := e.post("/approvals/1/approve", adm, url.Values{"comment": {"ship it <b>now</b>"}})
	if r.status != 403 || !strings.Contains(r.body, `action="/approvals/1/approve"`) || hiddenFields(r.body).Get("comment") != "ship it <b>now</b>" ||
		!strings.Contains(r.body, "with this very request") {
		t.Fatalf("step-up page: %d\n%s", r.status, r.body)
	}
	if e.request(id).Status != store.DeployPending {
		t.Fatal("approved without the second factor")
	}
	wrong := e.prove(r, adm, "000000")
	if wrong.status != 401 || hiddenFields(wrong.body).Get("comment") != "ship it <b>now</b>" {
		t.Fatalf("a wrong code: %d\n%s", wrong.status, wrong.body)
	}
	done := e.prove(wrong, adm, e.code(secret))
	d := e.request(id)
	want := "ok:Approved request #1: the deploy may run until " + timefmt.Display(d.WindowEndsAt) + "."
	if done.status != 303 || location(done) != "/approvals/1" || flashText(t, done.header) != want {
		t.Fatalf("approve: %d %q %q, want %q", done.status, location(done), flashText(t, done.header), want)
	}
	if d.Status != store.DeployApproved || len(d.Approvals) != 1 || d.Approvals[0].Email != "admin@example.com" || d.Approvals[0].Comment != "ship it <b>now</b>" {
		t.Fatalf("after approving: %+v", d)
	}
	page := e.do("GET", "/approvals/1", adm, nil, nil, flashCookie(done.header))
	for _, s := range []string{"Approved request #1", "admin@example.com", "ship it &lt;b&gt;now&lt;/b&gt;", "1 of 1 needed", ">approved<",
		"until " + timefmt.Display(d.WindowEndsAt)} {
		if !strings.Contains(page.body, s) {
			t.Errorf("the page after approving lacks %q", s)
		}
	}
	if strings.Contains(page.body, approveForm) {
		t.Error("forms offered for a decided request")
	}
	// Approving again: an error on the page, not a crash.
	again := e.prove(e.post("/approvals/1/approve", adm, url.Values{}), adm, e.code(secret))
	if again.status != 303 || !strings.Contains(flashText(t, again.header), "err:request #1 is approved, not waiting") {
		t.Errorf("approving again: %d %q", again.status, flashText(t, again.header))
	}
	// The queue lists it among the decided ones.
	if q := e.get("/approvals", adm); !strings.Contains(q.body, "Recently decided") || !strings.Contains(q.body, ">approved</span>") ||
		!strings.Contains(q.body, "1 of 1") {
		t.Errorf("queue after approving:\n%s", q.body)
	}

	// A rejection, with a comment.
	in := hostileInput()
	in.Commit = strings.Repeat("ab", 20)
	id2 := e.ask(in)
	path := "/approvals/" + strconv.FormatInt(id2, 10)
	r = e.post(path+"/reject", adm, url.Values{"comment": {"not on a Friday"}})
	done = e.prove(r, adm, e.code(secret))
	if done.status != 303 || location(done) != path || flashText(t, done.header) != "ok:Rejected request #2: the deploy will not run." {
		t.Fatalf("reject: %d %q %q", done.status, location(done), flashText(t, done.header))
	}
	if p := e.get(path, adm); !strings.Contains(p.body, ">rejected<") || !strings.Contains(p.body, "admin@example.com: <q>not on a Friday</q>") {
		t.Errorf("rejected request's page:\n%s", p.body)
	}
	if q := e.get("/approvals?status=rejected", adm); !strings.Contains(q.body, `href="`+path+`"`) || strings.Contains(q.body, `href="/approvals/1"`) {
		t.Errorf("rejected filter:\n%s", q.body)
	}
}

// TestApprovalsAbsentWithoutService: a console without the approval
// service has no approval pages and no link to them.
func TestApprovalsAbsentWithoutService(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/approvals", e.sessions["admin"]); r.status != 404 {
		t.Errorf("/approvals: %d", r.status)
	}
	if r := e.get("/", e.sessions["admin"]); strings.Contains(r.body, `href="/approvals"`) {
		t.Error("nav links the approval pages")
	}
	if r := e.get("/policy", e.sessions["admin"]); strings.Contains(r.body, `id="approvals"`) {
		t.Error("policy page shows approval rules")
	}
}
