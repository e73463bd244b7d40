package deploycheck_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck/githubtest"
)

const ghToken = "ghs_fake_installation_token"

// history: main m1-m2-m3 (pushed after feature branched at m2), feature f1
// on m2, next n1 on m3, release/1.2 r1 on m1, feature2 g1-g2 on m3, a
// closed pull request's o1 on m1, a fork's x1 on m3, an orphan gh-pages p1,
// and a branch whose name needs escaping.
func fixture(t *testing.T) (*githubtest.Server, *deploycheck.GitHub, map[string]string) {
	t.Helper()
	s := githubtest.NewServer(t, ghToken)
	c := map[string]string{}
	for _, l := range []string{"m1", "m2", "m3", "f1", "n1", "r1", "g1", "g2", "o1", "x1", "p1", "h1"} {
		c[l] = githubtest.SHA(l)
	}
	r := s.Repo("acme/web")
	r.Branch("main", c["m1"], c["m2"])
	r.Branch("feature", c["m2"], c["f1"])
	r.Branch("main", c["m2"], c["m3"])
	r.Branch("next", c["m3"], c["n1"])
	r.Branch("release/1.2", c["m1"], c["r1"])
	r.Branch("feature2", c["m3"], c["g1"], c["g2"])
	r.Branch("gh-pages", c["p1"])
	r.Branch("hotfix/#12+50%", c["m1"], c["h1"])
	r.Commit(c["o1"], c["m1"])
	r.Commit(c["x1"], c["m3"])
	r.PullRequest(githubtest.PR{Number: 7, Title: "Feature", State: "open", HeadRef: "feature", HeadSHA: c["f1"], BaseRef: "main"})
	r.PullRequest(githubtest.PR{Number: 9, State: "open", HeadRef: "feature2", HeadSHA: c["g2"], BaseRef: "main"})
	r.PullRequest(githubtest.PR{Number: 5, State: "closed", HeadRef: "old", HeadSHA: c["o1"], BaseRef: "main"})
	r.PullRequest(githubtest.PR{Number: 8, State: "open", HeadRef: "main", HeadSHA: c["x1"], BaseRef: "main", HeadRepo: "mallory/web"})
	g := &deploycheck.GitHub{BaseURL: s.URL, Token: ghToken}
	return s, g, c
}

func TestCheckCommit(t *testing.T) {
	main := deploycheck.CommitRule{Branches: []string{"main"}}
	mainOrPR := deploycheck.CommitRule{Branches: []string{"main"}, OpenPR: true}
	tests := []struct {
		name   string
		repo   string
		commit string
		rule   deploycheck.CommitRule
		want   deploycheck.Verdict // Reason: a substring
	}{
		{"head of main", "acme/web", "m3", main, deploycheck.Verdict{Allowed: true, Branch: "main", Reason: "is the head of main in acme/web"}},
		{"behind main", "acme/web", "m1", main, deploycheck.Verdict{Allowed: true, Branch: "main", Reason: "is on main in acme/web"}},
		{"repository name is case-insensitive", "Acme/Web", "m1", main, deploycheck.Verdict{Allowed: true, Branch: "main"}},
		{"diverged from main", "acme/web", "f1", main, deploycheck.Verdict{Reason: "it is not on main (diverged from it)"}},
		{"ahead of main", "acme/web", "n1", main, deploycheck.Verdict{Reason: "it is not on main (it is ahead of it)"}},
		{"not on the allowed branch", "acme/web", "r1", main, deploycheck.Verdict{Reason: "not on main"}},
		{"on the second allowed branch, with a slash", "acme/web", "r1", deploycheck.CommitRule{Branches: []string{"main", "release/1.2"}},
			deploycheck.Verdict{Allowed: true, Branch: "release/1.2", Reason: "is the head of release/1.2"}},
		{"branch name that needs escaping", "acme/web", "m1", deploycheck.CommitRule{Branches: []string{"hotfix/#12+50%"}},
			deploycheck.Verdict{Allowed: true, Branch: "hotfix/#12+50%"}},
		{"allowed branch does not exist", "acme/web", "m1", deploycheck.CommitRule{Branches: []string{"develop"}}, deploycheck.Verdict{Reason: "branch develop does not exist"}},
		{"no shared history", "acme/web", "m1", deploycheck.CommitRule{Branches: []string{"gh-pages"}}, deploycheck.Verdict{Reason: "it shares no history with gh-pages"}},
		{"head of an open pull request", "acme/web", "f1", mainOrPR,
			deploycheck.Verdict{Allowed: true, Branch: "feature", PR: 7, PRURL: "https://github.com/acme/web/pull/7", Reason: "is the head of open pull request #7 (feature into main)"}},
		{"inside an open pull request", "acme/web", "g1", deploycheck.CommitRule{OpenPR: true},
			deploycheck.Verdict{Allowed: true, Branch: "feature2", PR: 9, PRURL: "https://github.com/acme/web/pull/9", Reason: "is in open pull request #9"}},
		{"open pull request not allowed by the rule", "acme/web", "f1", main, deploycheck.Verdict{Reason: "diverged"}},
		{"closed pull request only", "acme/web", "o1", mainOrPR, deploycheck.Verdict{Reason: "no open pull request contains it (closed: #5)"}},
		{"open pull request from a fork", "acme/web", "x1", mainOrPR, deploycheck.Verdict{Reason: "open pull requests from forks do not count: #8"}},
		{"fork allowed", "acme/web", "x1", deploycheck.CommitRule{OpenPR: true, AllowForkPRs: true}, deploycheck.Verdict{Allowed: true, Branch: "main", PR: 8, PRURL: "https://github.com/acme/web/pull/8"}},
		{"unknown commit", "acme/web", "unknown", mainOrPR, deploycheck.Verdict{Reason: "is not in acme/web on GitHub"}},
		{"unknown repository", "acme/nope", "m1", main, deploycheck.Verdict{Reason: "is not in acme/nope on GitHub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, g, c := fixture(t)
			sha := c[tt.commit]
			if sha == "" {
				sha = githubtest.SHA(tt.commit)
			}
			got, err := g.CheckCommit(context.Background(), tt.repo, sha, tt.rule)
			if err != nil {
				t.Fatalf("CheckCommit: %v", err)
			}
			if got.Allowed != tt.want.Allowed || got.Branch != tt.want.Branch || got.PR != tt.want.PR || got.PRURL != tt.want.PRURL || !strings.Contains(got.Reason, tt.want.Reason) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCheckCommitEscapesBranches(t *testing.T) {
	s, g, c := fixture(t)
	if _, err := g.CheckCommit(context.Background(), "acme/web", c["r1"], deploycheck.CommitRule{Branches: []string{"hotfix/#12+50%", "release/1.2"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /repos/acme/web/commits/" + c["r1"],
		"GET /repos/acme/web/branches/hotfix/%2312+50%25",
		"GET /repos/acme/web/compare/hotfix/%2312+50%25..." + c["r1"],
		"GET /repos/acme/web/branches/release/1.2",
	}
	if got := s.Requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckCommitRefusesBadInput(t *testing.T) {
	good := githubtest.SHA("m1")
	main := deploycheck.CommitRule{Branches: []string{"main"}}
	tests := []struct {
		name   string
		repo   string
		sha    string
		rule   deploycheck.CommitRule
		mutate func(g *deploycheck.GitHub)
	}{
		{"short sha", "acme/web", good[:12], main, nil},
		{"uppercase sha", "acme/web", strings.ToUpper(good), main, nil},
		{"sha with a path", "acme/web", good[:38] + "/x", main, nil},
		{"sha that is a ref", "acme/web", "main", main, nil},
		{"repo without owner", "web", good, main, nil},
		{"repo with extra segment", "acme/web/pulls", good, main, nil},
		{"repo traversal", "../acme", good, main, nil},
		{"repo dot-dot name", "acme/..", good, main, nil},
		{"repo query", "acme/web?x=1", good, main, nil},
		{"repo encoded slash", "acme/web%2Fx", good, main, nil},
		{"repo .git", "acme/web.git", good, main, nil},
		{"owner starting with dash", "-acme/web", good, main, nil},
		{"branch with ..", "acme/web", good, deploycheck.CommitRule{Branches: []string{"main/../../x"}}, nil},
		{"branch with query", "acme/web", good, deploycheck.CommitRule{Branches: []string{"main?per_page=1"}}, nil},
		{"branch with revision syntax", "acme/web", good, deploycheck.CommitRule{Branches: []string{"main~1"}}, nil},
		{"branch with cross-repo syntax", "acme/web", good, deploycheck.CommitRule{Branches: []string{"mallory:main"}}, nil},
		{"branch with space", "acme/web", good, deploycheck.CommitRule{Branches: []string{"my branch"}}, nil},
		{"branch with newline", "acme/web", good, deploycheck.CommitRule{Branches: []string{"main\n"}}, nil},
		{"branch with a dot component", "acme/web", good, deploycheck.CommitRule{Branches: []string{"a/.b"}}, nil},
		{"branch as full ref", "acme/web", good, deploycheck.CommitRule{Branches: []string{"refs/heads/main"}}, nil},
		{"branch that looks like a sha", "acme/web", good, deploycheck.CommitRule{Branches: []string{good}}, nil},
		{"empty branch", "acme/web", good, deploycheck.CommitRule{Branches: []string{""}}, nil},
		{"empty rule", "acme/web", good, deploycheck.CommitRule{}, nil},
		{"no token", "acme/web", good, main, func(g *deploycheck.GitHub) { g.Token = "" }},
		{"base URL with query", "acme/web", good, main, func(g *deploycheck.GitHub) { g.BaseURL += "/?x=1" }},
		{"base URL not http", "acme/web", good, main, func(g *deploycheck.GitHub) { g.BaseURL = "file:///etc" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, g, _ := fixture(t)
			if tt.mutate != nil {
				tt.mutate(g)
			}
			v, err := g.CheckCommit(context.Background(), tt.repo, tt.sha, tt.rule)
			if !errors.Is(err, deploycheck.ErrInvalidInput) || v.Allowed {
				t.Errorf("got %+v, %v; want ErrInvalidInput", v, err)
			}
			if r := s.Requests(); len(r) != 0 {
				t.Errorf("requests were made: %v", r)
			}
		})
	}
}

func TestCheckCommitFailures(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(s *githubtest.Server, g *deploycheck.GitHub)
		rateLimited bool
		status      int
	}{
		{"rate limit exhausted", func(s *githubtest.Server, _ *deploycheck.GitHub) { s.ExhaustRateLimit() }, true, 403},
		{"rate limit exhausted during the check", func(s *githubtest.Server, _ *deploycheck.GitHub) { s.SetRateLimitRemaining(2) }, true, 403},
		{"secondary rate limit 429", func(s *githubtest.Server, _ *deploycheck.GitHub) { s.SecondaryRateLimit(429) }, true, 429},
		{"secondary rate limit 403", func(s *githubtest.Server, _ *deploycheck.GitHub) { s.SecondaryRateLimit(403) }, true, 403},
		{"bad token", func(_ *githubtest.Server, g *deploycheck.GitHub) { g.Token = "revoked" }, false, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, g, c := fixture(t)
			tt.setup(s, g)
			v, err := g.CheckCommit(context.Background(), "acme/web", c["o1"], deploycheck.CommitRule{Branches: []string{"main"}, OpenPR: true})
			var apiErr *deploycheck.APIError
			if v.Allowed || !errors.As(err, &apiErr) || apiErr.Status != tt.status || errors.Is(err, deploycheck.ErrRateLimited) != tt.rateLimited {
				t.Fatalf("got %+v, %v; want an APIError %d, rate limited %v", v, err, tt.status, tt.rateLimited)
			}
			if tt.rateLimited && tt.status == 403 && apiErr.Reset.IsZero() && tt.name != "secondary rate limit 403" {
				t.Errorf("reset time not read: %+v", apiErr)
			}
		})
	}
}

// A commit and a comparison with a huge list of files are read only as far
// as the fields needed: bigger than the bound on what is read, they pass.
func TestCheckCommitLargeAnswers(t *testing.T) {
	s, g, c := fixture(t)
	s.Repo("acme/web").PadFiles(24 << 20)
	v, err := g.CheckCommit(context.Background(), "acme/web", c["f1"], deploycheck.CommitRule{Branches: []string{"main"}})
	if err != nil || v.Allowed || !strings.Contains(v.Reason, "diverged") {
		t.Fatalf("got %+v, %v", v, err)
	}
}

// hostile is a GitHub that answers every request with status and body.
func hostile(t *testing.T, status int, body string) *deploycheck.GitHub {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(hs.Close)
	return &deploycheck.GitHub{BaseURL: hs.URL, Token: ghToken}
}

func TestCheckCommitUnexpectedAnswers(t *testing.T) {
	sha := githubtest.SHA("m1")
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"another commit", 200, `{"sha":"` + githubtest.SHA("other") + `"}`},
		{"no sha", 200, `{"files":[]}`},
		{"not JSON", 200, `<html>`},
		{"array", 200, `[]`},
		{"truncated", 200, `{"files":[{"patch":"`},
		{"server error", 502, `{"message":"Server Error"}`},
		{"forbidden, not rate limited", 403, `{"message":"Resource not accessible by integration"}`},
		{"sha not a string", 200, `{"sha": 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := hostile(t, tt.status, tt.body)
			v, err := g.CheckCommit(context.Background(), "acme/web", sha, deploycheck.CommitRule{Branches: []string{"main"}})
			if err == nil || v.Allowed || errors.Is(err, deploycheck.ErrRateLimited) {
				t.Fatalf("got %+v, %v; want an error", v, err)
			}
		})
	}
}

// A GitHub that does not answer is given up on when the check's time is
// over (or the caller's context ends), with an error.
func TestCheckCommitTimeout(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hs.Close)
	g := &deploycheck.GitHub{BaseURL: hs.URL, Token: ghToken, Timeout: 50 * time.Millisecond}
	_, err := g.CheckCommit(context.Background(), "acme/web", githubtest.SHA("m1"), deploycheck.CommitRule{Branches: []string{"main"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.Timeout = 0
	if _, err := g.CheckCommit(ctx, "acme/web", githubtest.SHA("m1"), deploycheck.CommitRule{Branches: []string{"main"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
}
