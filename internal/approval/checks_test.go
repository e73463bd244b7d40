package approval_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck/githubtest"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// withRule rebuilds the env's service with one rule for prod/web.
func (e *env) withRule(r approval.Rule, gh *deploycheck.GitHub) {
	r.Rack, r.App, r.Needed, r.ApproverRoles, r.RequestTTL, r.Window = "prod", "web", 1, []string{"admin"}, 24*time.Hour, 15*time.Minute
	pol := &authz.Policy{RequireMFA: true, StepUp: true, StepUpWindow: 10 * time.Minute, Clock: e.clk}
	e.svc = approval.New(e.st, approval.Config{Rules: approval.Rules{r}, Racks: []string{"prod"}, PublicURL: "https://gw.example",
		Clock: e.clk, GitHub: gh}, e.rec, pol, e.notes, builds{"B1": "R1"}, nil)
	pol.NeedsApproval = e.svc.NeedsApproval
}

func sourceWith(t *testing.T, convoxYML string) []byte {
	return testutil.Tgz(t, map[string]string{"convox.yml": convoxYML, "Dockerfile": "FROM scratch\n"})
}

// upload runs an approved upload through the gate the way the proxy does:
// the body is read through Grant.Body to its end, then Finish.
func (e *env) upload(key string, src []byte) error {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "ObjectStore", Key: key})
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, g.Body(io.NopCloser(bytes.NewReader(src)))); err != nil {
		e.t.Fatal(err)
	}
	g.Finish(ctx, http.StatusOK)
	return nil
}

// The uploaded source's images must match the rule's anchored pattern for
// the approved commit: a mismatching upload is not the approved source
// (builds are refused, saying why, and the step is given back); an upload
// that matches can then be built.
func TestImageCheck(t *testing.T) {
	e := newEnv(t, 1)
	rule, err := deploycheck.NewImageRule(`^registry\.example\.com/web:{{GIT_COMMIT}}$`, true)
	if err != nil {
		t.Fatal(err)
	}
	e.withRule(approval.Rule{Images: rule}, nil)
	ctx := context.Background()
	d := e.request("web")
	if _, err := e.svc.Approve(ctx, e.person("admin", true), d.ID, ""); err != nil {
		t.Fatal(err)
	}
	build := func(key string) error {
		_, err := e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "BuildCreate",
			Form: map[string][]string{"url": {"object://web/" + key}}})
		return err
	}
	bad := sourceWith(t, "services:\n  web:\n    image: registry.example.com/web:latest\n")
	if err := e.upload("bad.tgz", bad); err != nil {
		t.Fatal(err)
	}
	got, _ := e.st.GetDeployRequest(ctx, d.ID)
	if got.ObjectKey != "" || !strings.Contains(got.SourceCheck, "latest") {
		t.Fatalf("after a mismatching upload: object %q, check %q", got.ObjectKey, got.SourceCheck)
	}
	if err := build("bad.tgz"); err == nil || !strings.Contains(err.Error(), "image check") {
		t.Fatalf("building the mismatching upload: %v", err)
	}
	if e.rec.count("deploy.source_check", "deny", string(approval.ReasonSourceCheck)) != 1 {
		t.Fatal("the failed check was not audited")
	}
	buildOnly := sourceWith(t, "services:\n  web:\n    build: .\n")
	if err := e.upload("build.tgz", buildOnly); err != nil {
		t.Fatal(err)
	}
	if err := build("build.tgz"); err == nil {
		t.Fatal("a service built from source passed require_images")
	}
	good := sourceWith(t, "services:\n  web:\n    image: registry.example.com/web:"+commit+"\n")
	if err := e.upload("good.tgz", good); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.st.GetDeployRequest(ctx, d.ID); got.ObjectKey != "good.tgz" || got.SourceCheck != "" {
		t.Fatalf("after a matching upload: %+v", got)
	}
	if _, err := e.svc.Gate(ctx, approval.Call{Principal: e.ci, Rack: "prod", App: "web", Route: "BuildCreate",
		Form: map[string][]string{"url": {"object://web/good.tgz"}, "manifest": {"convox.unchecked.yml"}}}); err == nil {
		t.Fatal("a build of another manifest than the checked convox.yml passed")
	}
	if err := build("good.tgz"); err != nil {
		t.Fatalf("building the matching upload: %v", err)
	}
}

// The commit must be on an allowed branch or in an open pull request,
// checked with GitHub when CI asks (a faithful fake GitHub on loopback);
// when GitHub cannot answer, the request is refused (fail closed).
func TestCommitCheck(t *testing.T) {
	e := newEnv(t, 1)
	gh := githubtest.NewServer(t, "gh-token")
	repo := gh.Repo("acme/web")
	onMain, onFeature, inPR := githubtest.SHA("main-2"), githubtest.SHA("feature-1"), githubtest.SHA("pr-1")
	repo.Branch("main", githubtest.SHA("main-1"), onMain)
	repo.Branch("feature", githubtest.SHA("main-1"), onFeature)
	repo.Branch("fix", githubtest.SHA("main-1"), inPR)
	repo.PullRequest(githubtest.PR{Number: 7, State: "open", HeadRef: "fix", HeadSHA: inPR, BaseRef: "main"})
	client := &deploycheck.GitHub{BaseURL: gh.URL, Token: "gh-token"}
	e.withRule(approval.Rule{Repo: "acme/web", Commit: deploycheck.CommitRule{Branches: []string{"main"}, OpenPR: true}}, client)
	ctx := context.Background()
	ask := func(sha string) (*store.DeployRequest, error) {
		return e.svc.Request(ctx, approval.Actor{Principal: e.ci}, apitypes.DeployRequestInput{Rack: "prod", App: "web", Commit: sha})
	}
	if _, err := ask(onMain); err != nil {
		t.Fatalf("a commit on main: %v", err)
	}
	if _, err := ask(inPR); err != nil {
		t.Fatalf("a commit in an open pull request: %v", err)
	}
	_, err := ask(onFeature)
	var rf *approval.Refused
	if !errors.As(err, &rf) || rf.Reason != approval.ReasonCommitNotAllowed {
		t.Fatalf("a commit only on a feature branch: %v", err)
	}
	if _, err := ask(githubtest.SHA("unknown")); !errors.As(err, &rf) {
		t.Fatalf("a commit GitHub does not know: %v", err)
	}
	gh.ExhaustRateLimit()
	_, err = ask(onMain)
	var un *approval.Unchecked
	if !errors.As(err, &un) {
		t.Fatalf("GitHub rate-limited: %v, want a refusal to try again", err)
	}
	if status, _ := approval.Answer(err); status != http.StatusServiceUnavailable {
		t.Fatalf("GitHub rate-limited answered %d", status)
	}
	if n := e.rec.count("deploy.request", "deny", ""); n != 3 {
		t.Fatalf("refused requests audited: %d, want 3", n)
	}
	if list, _ := e.st.ListDeployRequests(ctx, store.DeployFilter{}); len(list) != 2 {
		t.Fatalf("stored requests: %d, want 2", len(list))
	}
}
