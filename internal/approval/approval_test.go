package approval_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

type recorder struct {
	mu  sync.Mutex
	evs []chain.Event
}

func (r *recorder) Record(ev *chain.Event) { r.mu.Lock(); r.evs = append(r.evs, *ev); r.mu.Unlock() }
func (r *recorder) RecordSync(_ context.Context, ev *chain.Event) error {
	r.Record(ev)
	return nil
}

func (r *recorder) count(action, decision, reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.evs {
		if ev.Action == action && ev.Decision == decision && (reason == "" || ev.Reason == reason) {
			n++
		}
	}
	return n
}

type notes struct {
	mu    sync.Mutex
	kinds []string
}

func (n *notes) Notify(_ context.Context, kind string, _ *store.DeployRequest, _, link string) {
	n.mu.Lock()
	n.kinds = append(n.kinds, kind)
	n.mu.Unlock()
}

type builds map[string]string

func (b builds) BuildRelease(_ context.Context, _, _, id string) (string, error) { return b[id], nil }

type env struct {
	t      *testing.T
	clk    *clock.Fake
	st     store.Store
	rec    *recorder
	notes  *notes
	svc    *approval.Service
	ci     *authz.Principal // the CI token, owned by the deployer
	people map[string]*authz.Principal
}

func newEnv(t *testing.T, needed int) *env {
	e := &env{t: t, clk: clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)), rec: &recorder{}, notes: &notes{},
		people: map[string]*authz.Principal{}}
	st, err := storeopen.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "gw.db"), store.WithClock(e.clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	for _, role := range []string{"viewer", "deployer", "admin", "admin2", "admin3"} {
		r := strings.TrimRight(role, "0123456789")
		u := &store.User{Email: role + "@example.com", Role: r}
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		e.people[role] = &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: u.Email, Role: r}
	}
	// The CI token is the deployer's, minted for them by admin2.
	tok := &store.APIToken{Name: "ci", Prefix: "rgw_ci", Hash: []byte("ci-hash"), UserID: e.people["deployer"].UserID,
		CreatedBy: e.people["admin2"].UserID}
	if err := st.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	e.ci = &authz.Principal{Kind: authz.KindToken, UserID: tok.UserID, Email: "deployer@example.com", Role: "deployer",
		TokenID: tok.ID, TokenName: "ci", TokenPerms: authz.Universe()}
	pol := &authz.Policy{RequireMFA: true, StepUp: true, StepUpWindow: 10 * time.Minute, Clock: e.clk}
	rules := approval.Rules{{Rack: "prod", App: "web*", Needed: needed, ApproverRoles: []string{"admin"},
		RequestTTL: 24 * time.Hour, Window: 15 * time.Minute, RunCommands: []string{"bin/migrate"}}}
	e.svc = approval.New(st, approval.Config{Rules: rules, Racks: []string{"prod", "staging"}, PublicURL: "https://gw.example",
		Clock: e.clk}, e.rec, pol, e.notes, builds{"B1": "R1"}, nil)
	pol.NeedsApproval = e.svc.NeedsApproval
	return e
}

// person is a signed-in person who proved a second factor on this very
// request (what approving needs), unless fresh is false.
func (e *env) person(role string, fresh bool) approval.Actor {
	p := *e.people[role]
	p.Assurance = authz.Assurance{Credential: authz.CredentialWebSession, Enrolled: true, SignedIn: true,
		MFAMethod: "totp", MFAAt: e.clk.Now().Add(-time.Hour)}
	if fresh {
		p.Assurance = p.Assurance.WithProof("totp", e.clk.Now())
	}
	return approval.Actor{Principal: &p}
}

func (e *env) request(app string) *store.DeployRequest {
	e.t.Helper()
	d, err := e.svc.Request(context.Background(), approval.Actor{Principal: e.ci},
		apitypes.DeployRequestInput{Rack: "prod", App: app, Commit: commit, Branch: "main"})
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	return d
}

func wantRefused(t *testing.T, what string, err error, reason authz.Reason) {
	t.Helper()
	var rf *approval.Refused
	var fb *approval.Forbidden
	switch {
	case errors.As(err, &rf) && rf.Reason == reason:
	case errors.As(err, &fb) && fb.Decision.Reason == reason:
	default:
		t.Fatalf("%s: %v, want a refusal %s", what, err, reason)
	}
}

// The rules of approving: only people, never the token's owner, only the
// rule's approvers, with a second factor on that very request, only while
// pending and unexpired; each refusal audited and nothing changed.
func TestApproveRules(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	d := e.request("web")
	_, err := e.svc.Approve(ctx, approval.Actor{Principal: e.ci}, d.ID, "")
	wantRefused(t, "the token itself", err, approval.ReasonNotPerson)
	_, err = e.svc.Approve(ctx, e.person("deployer", true), d.ID, "")
	wantRefused(t, "the token's owner", err, approval.ReasonSelfApproval)
	_, err = e.svc.Approve(ctx, e.person("admin2", true), d.ID, "")
	wantRefused(t, "the admin who minted the token", err, approval.ReasonSelfApproval)
	_, err = e.svc.Approve(ctx, e.person("viewer", true), d.ID, "")
	wantRefused(t, "a viewer", err, authz.ReasonMissingPermission)
	_, err = e.svc.Approve(ctx, e.person("admin", false), d.ID, "")
	wantRefused(t, "an admin without a fresh factor", err, authz.ReasonStepUpRequired)
	if e.rec.count("deploy.approve", "deny", "") != 5 {
		t.Fatalf("refusals audited: %d, want 5", e.rec.count("deploy.approve", "deny", ""))
	}
	if got, _ := e.st.GetDeployRequest(ctx, d.ID); got.Status != store.DeployPending || len(got.Approvals) != 0 {
		t.Fatalf("refused approvals changed the request: %+v", got)
	}
	_, err = e.svc.Approve(ctx, e.person("admin", true), d.ID, "hostile\x00comment")
	var inv *approval.Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("a comment with NUL: %v", err)
	}
	got, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, "lgtm")
	if err != nil || got.Status != store.DeployApproved {
		t.Fatalf("approve: %+v %v", got, err)
	}
	_, err = e.svc.Approve(ctx, e.person("admin", true), d.ID, "")
	wantRefused(t, "approving an approved request", err, approval.ReasonNotPending)
	if strings.Join(e.notes.kinds, ",") != approval.EventRequested+","+approval.EventApproved {
		t.Fatalf("notifications %v", e.notes.kinds)
	}
}

// N of 2: one person's approval leaves the request pending (and they may
// not add a second); a second person approves it.
func TestTwoApprovers(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	d := e.request("web")
	got, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, "")
	if err != nil || got.Status != store.DeployPending {
		t.Fatalf("one of two: %+v %v", got, err)
	}
	_, err = e.svc.Approve(ctx, e.person("admin", true), d.ID, "")
	wantRefused(t, "the same person twice", err, approval.ReasonNotPending)
	got, err = e.svc.Approve(ctx, e.person("admin3", true), d.ID, "")
	if err != nil || got.Status != store.DeployApproved || len(got.Approvals) != 2 {
		t.Fatalf("two of two: %+v %v", got, err)
	}
}

// Time: an expired request cannot be approved; an approval's window
// closes its steps; the sweep marks both and notifies.
func TestExpiry(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	late := e.request("web")
	e.clk.Advance(24*time.Hour + time.Second)
	_, err := e.svc.Approve(ctx, e.person("admin", true), late.ID, "")
	wantRefused(t, "approving an expired request", err, approval.ReasonNotPending)

	d := e.request("web")
	if _, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, ""); err != nil {
		t.Fatal(err)
	}
	up := approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "ObjectStore", Key: "tmp/src.tgz"}
	g, err := e.svc.Gate(ctx, up)
	if err != nil {
		t.Fatalf("upload in the window: %v", err)
	}
	g.Finish(ctx, 200)
	e.clk.Advance(15 * time.Minute)
	build := approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "BuildCreate",
		Form: map[string][]string{"url": {"object://web/tmp/src.tgz"}}}
	if _, err := e.svc.Gate(ctx, build); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("a build after the window: %v", err)
	}
	n, err := e.svc.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if e.rec.count("deploy.expired", "allow", "") != 2 {
		t.Fatal("expiries not audited")
	}
}

// The gate: one upload, one build of it for the approved commit, one
// promote of its release; a failed call gives its step back; another
// app's deploy is judged by its own request.
func TestGate(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	d := e.request("web")
	call := func(route, key, id string, form map[string][]string) (*approval.Grant, error) {
		return e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: route, Key: key, ID: id, Form: form})
	}
	if _, err := call("ObjectStore", "a.tgz", "", nil); err == nil || !strings.Contains(err.Error(), "waiting for approval") ||
		!strings.Contains(err.Error(), "https://gw.example/approvals/") {
		t.Fatalf("pending: %v", err)
	}
	if _, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, ""); err != nil {
		t.Fatal(err)
	}
	g, err := call("ObjectStore", "a.tgz", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Finish(ctx, 502) // the rack failed: the upload may be tried again
	g, err = call("ObjectStore", "a.tgz", "", nil)
	if err != nil {
		t.Fatalf("retry after a failed upload: %v", err)
	}
	g.Finish(ctx, 200)
	if _, err := call("ObjectStore", "b.tgz", "", nil); err == nil {
		t.Fatal("a second upload passed")
	}
	if _, err := call("BuildImport", "", "", nil); err == nil {
		t.Fatal("a build import passed under the approval")
	}
	for _, form := range []map[string][]string{
		{"url": {"object://web/b.tgz"}},
		{"url": {"object://other/a.tgz"}},
		{"url": {"object://web/a.tgz"}, "git-sha": {"fedcba9"}},
		{"url": {"object://web/a.tgz"}, "git-sha": {"0123"}}, // too short to name a commit
		{"url": {"object://web/a.tgz"}, "description": {"release v2"}},
	} {
		if _, err := call("BuildCreate", "", "", form); err == nil {
			t.Errorf("build %v passed", form)
		}
	}
	if _, err := call("ReleasePromote", "", "R1", nil); err == nil {
		t.Fatal("a promote before the build passed")
	}
	g, err = call("BuildCreate", "", "", map[string][]string{"url": {"object://web/a.tgz"}, "git-sha": {commit[:10]}})
	if err != nil {
		t.Fatal(err)
	}
	g.Finish(ctx, 200) // no id read from the answer: the claim is given back
	if got, _ := e.st.GetDeployRequest(ctx, d.ID); got.BuildID != "" {
		t.Fatalf("a build without an id was recorded: %q", got.BuildID)
	}
	g, err = call("BuildCreate", "", "", map[string][]string{"url": {"object://web/a.tgz"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Response(&http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"id":"B1","status":"running"}`))}); err != nil {
		t.Fatal(err)
	}
	g.Finish(ctx, 200)
	if _, err := call("ReleasePromote", "", "R9", nil); err == nil {
		t.Fatal("promoting another release passed")
	}
	g, err = call("ReleasePromote", "", "R1", nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Finish(ctx, 200)
	got, _ := e.st.GetDeployRequest(ctx, d.ID)
	if got.Status != store.DeployDeployed || got.ObjectKey != "a.tgz" || got.BuildID != "B1" || got.ReleaseID != "R1" {
		t.Fatalf("deployed %+v", got)
	}
	if _, err := call("ObjectStore", "c.tgz", "", nil); err == nil || !strings.Contains(err.Error(), "deployed already") {
		t.Fatalf("after the deploy: %v", err)
	}
	// Another app of the rule has no request of its own.
	if _, err := e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web-admin", Route: "ObjectStore", Key: "a"}); err == nil {
		t.Fatal("web's approval unlocked web-admin")
	}
}

// Every field a CI job sends is checked.
func TestRequestValidation(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	good := apitypes.DeployRequestInput{Rack: "prod", App: "web", Commit: commit}
	for name, mut := range map[string]func(*apitypes.DeployRequestInput){
		"unknown rack":   func(in *apitypes.DeployRequestInput) { in.Rack = "nope" },
		"bad app":        func(in *apitypes.DeployRequestInput) { in.App = "../web" },
		"short commit":   func(in *apitypes.DeployRequestInput) { in.Commit = commit[:7] },
		"not hex":        func(in *apitypes.DeployRequestInput) { in.Commit = strings.Repeat("g", 40) },
		"branch NUL":     func(in *apitypes.DeployRequestInput) { in.Branch = "main\x00" },
		"message bytes":  func(in *apitypes.DeployRequestInput) { in.Message = "\xff\xfe" },
		"js url":         func(in *apitypes.DeployRequestInput) { in.PRURL = "javascript:alert(1)" },
		"no rule":        func(in *apitypes.DeployRequestInput) { in.App = "api" },
		"huge message":   func(in *apitypes.DeployRequestInput) { in.Message = strings.Repeat("x", 3000) },
		"url with space": func(in *apitypes.DeployRequestInput) { in.CIURL = "https://ci/ x" },
	} {
		in := good
		mut(&in)
		var inv *approval.Invalid
		if _, err := e.svc.Request(ctx, approval.Actor{Principal: e.ci}, in); !errors.As(err, &inv) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := e.svc.Request(ctx, e.person("admin", true), good); err == nil {
		t.Error("a person requested (only tokens do)")
	}
	if list, _ := e.st.ListDeployRequests(ctx, store.DeployFilter{}); len(list) != 0 {
		t.Fatalf("refused requests were stored: %d", len(list))
	}
}

// `convox run` by the CI token on a gated app: only the rule's commands,
// only on the app's own release, only while the approval's window is open
// (also after the promote).
func TestRunCommands(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	run := func(params map[string]string) error {
		_, err := e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "ProcessRun",
			Param: func(n string) string { return params[n] }})
		return err
	}
	migrate := map[string]string{"command": "bin/migrate"}
	if err := run(migrate); err == nil {
		t.Fatal("a run without any request passed")
	}
	d := e.request("web")
	if err := run(migrate); err == nil {
		t.Fatal("a run while pending passed")
	}
	if _, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, ""); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]map[string]string{
		"another command":  {"command": "bash"},
		"a longer command": {"command": "bin/migrate; curl evil"},
		"another image":    {"command": "bin/migrate", "image": "evil/image"},
		"another release":  {"command": "bin/migrate", "release": "RX"},
	} {
		if err := run(p); err == nil {
			t.Errorf("%s passed", name)
		}
	}
	if err := run(migrate); err != nil {
		t.Fatalf("the allowed command: %v", err)
	}
	if err := run(migrate); err != nil {
		t.Fatalf("the allowed command again in the window: %v", err)
	}
	e.clk.Advance(15 * time.Minute)
	if err := run(migrate); err == nil {
		t.Fatal("a run after the window passed")
	}
}
