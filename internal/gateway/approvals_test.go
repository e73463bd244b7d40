package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/notify"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp/yubiotptest"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

const approvedCommit = "0123456789abcdef0123456789abcdef01234567"

// newApprovalEnv is a gateway whose rule says deploys of myapp on rack dev
// need needed approvals by admins, and whose people have YubiKeys.
func newApprovalEnv(t *testing.T, needed int, opts ...envOption) *mfaEnv {
	key, b64 := yubiotptest.NewKey()
	y := yubiotptest.NewServer(t, "7", key)
	e := newEnv(t, append([]envOption{func(c *configT) {
		c.MFA.YubicoClientID, c.MFA.YubicoAPIKey, c.MFA.YubicoServers = "7", b64, []string{y.URL}
		c.Approvals.Rules = []config.ApprovalRule{{Rack: "dev", App: "myapp", Approvals: needed, ApproverRoles: []string{"admin", "deployer"}}}
	}}, opts...)...)
	return &mfaEnv{testEnv: e, yubico: y}
}

// hookReceiver is a webhook endpoint on loopback that keeps the events
// whose signature verifies.
type hookReceiver struct {
	mu     sync.Mutex
	kinds  []string
	forged int
	url    string
}

const hookSecret = "0123456789abcdef0123456789abcdef-hook"

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		defer h.mu.Unlock()
		if notify.VerifyWebhook([]byte(hookSecret), r.Header.Get("Rack-Gateway-Signature"), body, time.Now(), 5*time.Minute) != nil {
			h.forged++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct{ Kind string }
		_ = json.Unmarshal(body, &ev)
		h.kinds = append(h.kinds, ev.Kind)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *hookReceiver) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.kinds...)
}

func (h *hookReceiver) channel() envOption {
	return func(c *configT) {
		c.Notify.Channels = append(c.Notify.Channels, config.NotifyChannel{Name: "hook", Type: "webhook", URL: h.url, Secret: hookSecret})
	}
}

type apiAnswer struct {
	status int
	body   string
	level  string
}

// api calls the admin API as token, with a second-factor code if given.
func (e *mfaEnv) api(method, path, token, code string, body any) apiAnswer {
	e.t.Helper()
	var rd io.Reader
	hdr := http.Header{}
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
		hdr.Set("Content-Type", "application/json")
	}
	if code != "" {
		hdr.Set(apitypes.HeaderMFACode, code)
	}
	resp := e.do(method, path, token, rd, hdr)
	status, b := read(e.t.(*testing.T), resp)
	return apiAnswer{status: status, body: b, level: resp.Header.Get(apitypes.HeaderMFARequired)}
}

func (e *mfaEnv) deployRequest(id int64, token string) apitypes.DeployRequest {
	e.t.Helper()
	a := e.api("GET", "/api/v1/deploy-approvals/"+strconv.FormatInt(id, 10), token, "", nil)
	var d apitypes.DeployRequest
	if a.status != 200 || json.Unmarshal([]byte(a.body), &d) != nil {
		e.t.Fatalf("get request %d: %d %s", id, a.status, a.body)
	}
	return d
}

// rackCall sends a deploy step through the proxy as the CI token.
func (e *mfaEnv) rackCall(method, path, token string, body io.Reader, form url.Values) (int, string) {
	e.t.Helper()
	hdr := http.Header{}
	if form != nil {
		body = strings.NewReader(form.Encode())
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return read(e.t.(*testing.T), e.do(method, "/rack"+path, token, body, hdr))
}

// The whole flow through the real proxy and the simulated rack: a CI
// token's deploy is refused until a person other than the token's owner
// approves with a second factor on that very request; then one upload, one
// build from it and one promote of its release go through and are
// recorded; a second upload is refused; the request shows deployed; the
// audit chain holds every step and verifies.
func TestDeployApprovalFlow(t *testing.T) {
	hook := newHookReceiver(t)
	e := newApprovalEnv(t, 1, hook.channel())
	ci := e.tokens[authz.RoleDeployer] // owned by deployer@example.com
	src := tgzSource(t)

	// Without a request: refused, and told how to ask.
	status, body := e.rackCall("POST", "/apps/myapp/objects/tmp/src.tgz", ci, bytes.NewReader(src), nil)
	if status != 403 || !strings.Contains(body, "approval") || !strings.Contains(body, "deploy-approval request") {
		t.Fatalf("upload without a request: %d %s", status, body)
	}
	// Other apps deploy as before.
	if status, body := e.rackCall("POST", "/apps/otherapp/objects/tmp/src.tgz", ci, bytes.NewReader(src), nil); status == 403 {
		t.Fatalf("an app without a rule was gated: %d %s", status, body)
	}

	// The CI token asks.
	a := e.api("POST", "/api/v1/deploy-approvals", ci, "", apitypes.DeployRequestInput{Rack: "dev", App: "myapp",
		Commit: strings.ToUpper(approvedCommit), Branch: "main", PRURL: "https://github.com/o/r/pull/7", CIURL: "https://ci.example/1"})
	var req apitypes.DeployRequest
	if a.status != 201 || json.Unmarshal([]byte(a.body), &req) != nil || req.Status != "pending" || req.Commit != approvedCommit {
		t.Fatalf("request: %d %s", a.status, a.body)
	}
	idPath := "/api/v1/deploy-approvals/" + strconv.FormatInt(req.ID, 10)

	// While pending: refused, naming the request and where to approve it.
	status, body = e.rackCall("POST", "/apps/myapp/objects/tmp/src.tgz", ci, bytes.NewReader(src), nil)
	if status != 403 || !strings.Contains(body, "#"+strconv.FormatInt(req.ID, 10)) || !strings.Contains(body, "/approvals/") {
		t.Fatalf("upload while pending: %d %s", status, body)
	}

	// The token's owner may not approve, even with a second factor; nor
	// may the token itself; a viewer may not.
	owner, _ := e.session(authz.RoleDeployer, true)
	if a := e.api("POST", idPath+"/approve", owner, e.yubico.OTP(keyOf(authz.RoleDeployer)), nil); a.status != 403 || !strings.Contains(a.body, "self_approval") {
		t.Fatalf("the owner approving: %d %s", a.status, a.body)
	}
	if a := e.api("POST", idPath+"/approve", ci, "", nil); a.status != 403 {
		t.Fatalf("the token approving: %d %s", a.status, a.body)
	}
	viewer, _ := e.session(authz.RoleViewer, true)
	if a := e.api("POST", idPath+"/approve", viewer, e.yubico.OTP(keyOf(authz.RoleViewer)), nil); a.status != 403 || !strings.Contains(a.body, "missing_permission") {
		t.Fatalf("a viewer approving: %d %s", a.status, a.body)
	}
	// An admin: a second factor on this very request.
	admin, _ := e.session(authz.RoleAdmin, true)
	if a := e.api("POST", idPath+"/approve", admin, "", nil); a.status != 403 || a.level != "every-request" {
		t.Fatalf("approving without a fresh factor: %d %s (level %q)", a.status, a.body, a.level)
	}
	if d := e.deployRequest(req.ID, ci); d.Status != "pending" || len(d.Approvals) != 0 {
		t.Fatalf("refused approvals changed the request: %+v", d)
	}
	a = e.api("POST", idPath+"/approve", admin, e.yubico.OTP(keyOf(authz.RoleAdmin)), apitypes.DeployDecision{Comment: "ship it"})
	if a.status != 201 && a.status != 200 || !strings.Contains(a.body, `"approved"`) {
		t.Fatalf("approve: %d %s", a.status, a.body)
	}

	// Upload, once.
	status, body = e.rackCall("POST", "/apps/myapp/objects/tmp/src.tgz", ci, bytes.NewReader(src), nil)
	if status != 200 {
		t.Fatalf("upload after approval: %d %s", status, body)
	}
	if status, body := e.rackCall("POST", "/apps/myapp/objects/tmp/again.tgz", ci, bytes.NewReader(src), nil); status != 403 || !strings.Contains(body, "one upload") {
		t.Fatalf("a second upload: %d %s", status, body)
	}
	// Another app under the same approval: refused.
	e.gw.Policy.NeedsApproval = func(rack, app string) bool { return app == "myapp" || app == "otherapp" }
	if status, body := e.rackCall("POST", "/apps/otherapp/objects/tmp/src.tgz", ci, bytes.NewReader(src), nil); status != 403 {
		t.Fatalf("another app under myapp's approval: %d %s", status, body)
	}
	e.gw.Policy.NeedsApproval = e.gw.Approvals.NeedsApproval

	// A build of another object, or of another commit: refused. Then the
	// build of the approved upload.
	for _, f := range []url.Values{
		{"url": {"object://myapp/tmp/other.tgz"}},
		{"url": {"object://myapp/tmp/src.tgz"}, "git-sha": {"fedcba9876543210fedcba9876543210fedcba98"}},
		{"url": {"object://myapp/tmp/src.tgz"}, "description": {"deploy fedcba98"}},
	} {
		if status, body := e.rackCall("POST", "/apps/myapp/builds", ci, nil, f); status != 403 {
			t.Fatalf("build %v: %d %s", f, status, body)
		}
	}
	status, body = e.rackCall("POST", "/apps/myapp/builds", ci, nil, url.Values{"url": {"object://myapp/tmp/src.tgz"},
		"description": {"deploy " + approvedCommit[:12]}})
	var build struct{ ID, Status, Release string }
	if status != 200 || json.Unmarshal([]byte(body), &build) != nil || build.ID == "" {
		t.Fatalf("build: %d %s", status, body)
	}
	if status, body := e.rackCall("POST", "/apps/myapp/builds", ci, nil, url.Values{"url": {"object://myapp/tmp/src.tgz"}}); status != 403 {
		t.Fatalf("a second build: %d %s", status, body)
	}
	// Reads of the build are the token's as ever; wait for it to finish.
	testutil.Eventually(t, "the build to complete", func() bool {
		_, body := e.rackCall("GET", "/apps/myapp/builds/"+build.ID, ci, nil, nil)
		_ = json.Unmarshal([]byte(body), &build)
		return build.Status == "complete" && build.Release != ""
	})
	// Promote: another release is refused; the build's goes through.
	if status, body := e.rackCall("POST", "/apps/myapp/releases/"+testRelease+"/promote", ci, nil, url.Values{}); status != 403 {
		t.Fatalf("promoting another release: %d %s", status, body)
	}
	if status, body := e.rackCall("POST", "/apps/myapp/releases/"+build.Release+"/promote", ci, nil, url.Values{}); status != 200 {
		t.Fatalf("promote: %d %s", status, body)
	}
	d := e.deployRequest(req.ID, ci)
	if d.Status != "deployed" || d.ObjectKey != "tmp/src.tgz" || d.BuildID != build.ID || d.ReleaseID != build.Release ||
		len(d.Approvals) != 1 || d.Approvals[0].Email != "admin@example.com" || d.Approvals[0].Comment != "ship it" {
		t.Fatalf("after the deploy: %+v", d)
	}
	if status, _ := e.rackCall("POST", "/apps/myapp/objects/tmp/third.tgz", ci, bytes.NewReader(src), nil); status != 403 {
		t.Fatalf("an upload after the deploy: %d", status)
	}

	// The webhook heard of each step, signed.
	testutil.Eventually(t, "the notifications of the request, approval and deploy", func() bool {
		return strings.Join(hook.got(), ",") == "approval.requested,approval.approved,approval.deployed"
	})
	if hook.forged != 0 {
		t.Fatalf("%d deliveries did not verify", hook.forged)
	}

	// The audit chain holds every step and verifies.
	actions := map[string]int{}
	for _, ev := range e.audit() {
		if strings.HasPrefix(ev.Action, "deploy.") || strings.HasPrefix(ev.Action, "notify.") || strings.Contains(ev.Details, `"approval"`) {
			actions[ev.Action+"/"+ev.Decision]++
		}
	}
	for _, want := range []string{"notify.deliver/allow", "deploy.request/allow", "deploy.requested/allow", "deploy.approve/deny", "deploy.approve/allow",
		"deploy.approved/allow", "deploy.deployed/allow", "ObjectStore/allow", "ObjectStore/deny", "BuildCreate/allow",
		"BuildCreate/deny", "ReleasePromote/allow", "ReleasePromote/deny"} {
		if actions[want] == 0 {
			t.Errorf("no %s event in the audit log (have %v)", want, actions)
		}
	}
	ctx := context.Background()
	if err := e.gw.Checkpoints.Tick(ctx, true); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.gw.Verifier.Check(ctx); err != nil || !rep.OK() {
		t.Fatalf("the chain does not verify: %v %v", rep.Verdict(), err)
	}
}

// tgzSource is an app source as the convox CLI uploads it.
func tgzSource(t *testing.T) []byte {
	return testutil.Tgz(t, map[string]string{"convox.yml": "services:\n  web:\n    build: .\n    port: 3000\n", "Dockerfile": "FROM scratch\n"})
}

// Security events reach the notification channels too: a role change and a
// person locked out of their second factor.
func TestSecurityNotifications(t *testing.T) {
	hook := newHookReceiver(t)
	e := newApprovalEnv(t, 1, hook.channel())
	ctx := context.Background()
	role := authz.RoleDeployer
	if _, err := e.gw.Admin.UpdateUser(ctx, admin.Actor{System: "test"}, "ops@example.com", admin.UserChange{Role: &role}); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.session(authz.RoleViewer, true)
	res, err := e.gw.Authn.AuthenticateToken(ctx, tok)
	if err != nil || res.Principal == nil {
		t.Fatalf("session: %v", err)
	}
	for i := range e.gw.Config.MFA.LockAfter {
		a := mfa.Actor{Principal: res.Principal, SourceIP: "192.0.2." + strconv.Itoa(i+1)}
		if _, err := e.gw.MFA.Verify(ctx, a, "000000"); err == nil {
			t.Fatal("a wrong code passed")
		}
	}
	testutil.Eventually(t, "the role change and lockout notifications", func() bool {
		got := hook.got()
		return slices.Contains(got, "user.role_changed") && slices.Contains(got, "mfa.locked")
	})
}
