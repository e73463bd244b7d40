package deploycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultGitHubURL is GitHub's REST API, used when GitHub.BaseURL is empty.
// For GitHub Enterprise Server use https://HOST/api/v3.
const DefaultGitHubURL = "https://api.github.com"

// DefaultTimeout bounds one CheckCommit (all its requests) when
// GitHub.Timeout is zero.
const DefaultTimeout = 20 * time.Second

// GitHub checks commits with GitHub's REST API (version 2022-11-28). The
// zero value is not usable: Token is required. It is safe for concurrent
// use.
type GitHub struct {
	// BaseURL is the API root; empty means DefaultGitHubURL.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>"; it needs read
	// access to the repositories' contents and pull requests.
	Token string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds one CheckCommit; zero means DefaultTimeout.
	Timeout time.Duration
}

// CommitRule says where an approvable commit must come from. At least one
// of Branches and OpenPR must be set.
type CommitRule struct {
	// Branches: the commit is contained in one of these branches, i.e. it
	// is the branch's head or one of its ancestors (compare BRANCH...SHA
	// answers "identical" or "behind"). Tried in order; the first that
	// contains it wins.
	Branches []string
	// OpenPR: or the commit is the head of, or contained in, an open pull
	// request of the repository. GitHub lists the pull requests containing
	// a commit only while it is not on the default branch (then only the
	// one that merged it), so this complements Branches, not replaces it.
	OpenPR bool
	// AllowForkPRs lets an open pull request from a fork count. Without
	// it only pull requests whose head branch is in the repository itself
	// do: anyone can open a pull request from a fork.
	AllowForkPRs bool
}

// Verdict is the outcome of a commit check.
type Verdict struct {
	Allowed bool
	// Reason is one sentence for people (audit, approval page, CI).
	Reason string
	// Branch is the allowed branch that contains the commit, or for a pull
	// request, its head branch.
	Branch string
	// PR and PRURL name the open pull request that allowed the commit.
	PR    int
	PRURL string
}

// CheckCommit tells whether commit sha of repo ("owner/name") satisfies
// rule. Malformed input is refused with an error wrapping ErrInvalidInput
// before any request. A commit GitHub does not know (or a repository the
// token cannot see) is a Verdict that is not allowed. Any failure to get an
// answer — network, timeout, bad credentials, rate limit (wrapping
// ErrRateLimited), unexpected answers — is an error: the caller must then
// refuse, not allow.
func (g *GitHub) CheckCommit(ctx context.Context, repo, sha string, rule CommitRule) (Verdict, error) {
	if err := g.checkInput(repo, sha, rule); err != nil {
		return Verdict{}, err
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	owner, name, _ := strings.Cut(repo, "/")
	c := &check{g: g, ctx: ctx, root: "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name), repo: repo, sha: sha}

	known, err := c.commitExists()
	if err != nil {
		return Verdict{}, err
	}
	if !known {
		return Verdict{Reason: fmt.Sprintf("commit %s is not in %s on GitHub (or the gateway's GitHub token cannot see that repository)", sha, repo)}, nil
	}
	var misses []string
	for _, b := range rule.Branches {
		v, miss, err := c.onBranch(b)
		if err != nil || v.Allowed {
			return v, err
		}
		misses = append(misses, miss)
	}
	if rule.OpenPR {
		v, miss, err := c.inOpenPR(rule.AllowForkPRs)
		if err != nil || v.Allowed {
			return v, err
		}
		misses = append(misses, miss)
	}
	return Verdict{Reason: fmt.Sprintf("commit %s of %s is not allowed: %s", short(sha), repo, strings.Join(misses, "; "))}, nil
}

func (g *GitHub) checkInput(repo, sha string, rule CommitRule) error {
	if err := ValidRepo(repo); err != nil {
		return err
	}
	if err := ValidCommit(sha); err != nil {
		return err
	}
	if len(rule.Branches) == 0 && !rule.OpenPR {
		return invalid("the commit rule allows no branch and no pull request")
	}
	for _, b := range rule.Branches {
		if err := ValidBranch(b); err != nil {
			return err
		}
	}
	if g.Token == "" {
		return invalid("no GitHub token configured")
	}
	_, err := g.base()
	return err
}

// check is one CheckCommit in progress.
type check struct {
	g    *GitHub
	ctx  context.Context
	root string // /repos/{owner}/{repo}, escaped
	repo string
	sha  string
}

// commitExists asks GET /repos/{o}/{r}/commits/{sha}: 200 with that very
// SHA is known; 404 (repository not visible) and 422 ("No commit found for
// SHA") are unknown.
func (c *check) commitExists() (bool, error) {
	resp, err := c.g.get(c.ctx, c.root+"/commits/"+c.sha, http.StatusOK, http.StatusNotFound, http.StatusUnprocessableEntity)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	var got string
	if err := scanObject(io.LimitReader(resp.Body, maxScanBody), map[string]any{"sha": &got}); err != nil {
		return false, err
	}
	if got != c.sha {
		return false, fmt.Errorf("deploycheck: GitHub answered commit %q when asked for %s", got, c.sha)
	}
	return true, nil
}

// onBranch tells whether the commit is contained in branch b, or says in a
// few words why not.
func (c *check) onBranch(b string) (Verdict, string, error) {
	esc := escapeBranch(b)
	resp, err := c.g.get(c.ctx, c.root+"/branches/"+esc, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return Verdict{}, "", err
	}
	var br struct {
		Name   string `json:"name"`
		Commit struct {
			SHA string `json:"sha"`
		} `json:"commit"`
	}
	found := resp.StatusCode == http.StatusOK
	if found {
		err = json.NewDecoder(io.LimitReader(resp.Body, maxSmallBody)).Decode(&br)
	}
	resp.Body.Close()
	switch {
	case !found:
		return Verdict{}, fmt.Sprintf("branch %s does not exist", b), nil
	case err != nil:
		return Verdict{}, "", fmt.Errorf("deploycheck: GitHub branch %s: %w", b, err)
	case br.Commit.SHA == c.sha:
		return Verdict{Allowed: true, Branch: b, Reason: fmt.Sprintf("commit %s is the head of %s in %s", short(c.sha), b, c.repo)}, "", nil
	}

	resp, err = c.g.get(c.ctx, c.root+"/compare/"+esc+"..."+c.sha, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return Verdict{}, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return Verdict{}, fmt.Sprintf("it shares no history with %s", b), nil
	}
	var status string
	if err := scanObject(io.LimitReader(resp.Body, maxScanBody), map[string]any{"status": &status}); err != nil {
		return Verdict{}, "", err
	}
	switch status {
	case "identical", "behind":
		return Verdict{Allowed: true, Branch: b, Reason: fmt.Sprintf("commit %s is on %s in %s", short(c.sha), b, c.repo)}, "", nil
	case "ahead":
		return Verdict{}, fmt.Sprintf("it is not on %s (it is ahead of it)", b), nil
	case "diverged":
		return Verdict{}, fmt.Sprintf("it is not on %s (diverged from it)", b), nil
	}
	return Verdict{}, "", fmt.Errorf("deploycheck: GitHub compare answered an unknown status %q", status)
}

// pull is the part of a pull request the check reads.
type pull struct {
	Number  int    `json:"number"`
	State   string `json:"state"`
	HTMLURL string `json:"html_url"`
	Head    struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo *struct {
			FullName string `json:"full_name"`
		} `json:"repo"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// inOpenPR looks for an open pull request containing the commit, the one
// whose head it is first. Only the first 100 pull requests that GitHub
// lists are read.
func (c *check) inOpenPR(allowForks bool) (Verdict, string, error) {
	resp, err := c.g.get(c.ctx, c.root+"/commits/"+c.sha+"/pulls?per_page=100", http.StatusOK)
	if err != nil {
		return Verdict{}, "", err
	}
	defer resp.Body.Close()
	var pulls []pull
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPullsBody)).Decode(&pulls); err != nil {
		return Verdict{}, "", fmt.Errorf("deploycheck: GitHub pull requests of commit %s: %w", short(c.sha), err)
	}
	var best *pull
	var closed, forks []string
	for i := range pulls {
		p := &pulls[i]
		switch {
		case p.State != "open":
			closed = append(closed, fmt.Sprintf("#%d", p.Number))
		case !allowForks && (p.Head.Repo == nil || !strings.EqualFold(p.Head.Repo.FullName, c.repo)):
			forks = append(forks, fmt.Sprintf("#%d", p.Number))
		case best == nil || (p.Head.SHA == c.sha && best.Head.SHA != c.sha):
			best = p
		}
	}
	if best != nil {
		how := "in"
		if best.Head.SHA == c.sha {
			how = "the head of"
		}
		return Verdict{Allowed: true, Branch: best.Head.Ref, PR: best.Number, PRURL: best.HTMLURL,
			Reason: fmt.Sprintf("commit %s is %s open pull request #%d (%s into %s) in %s", short(c.sha), how, best.Number, best.Head.Ref, best.Base.Ref, c.repo)}, "", nil
	}
	miss := "no open pull request contains it"
	if len(forks) > 0 {
		miss += " (open pull requests from forks do not count: " + strings.Join(forks, ", ") + ")"
	}
	if len(closed) > 0 {
		miss += " (closed: " + strings.Join(closed, ", ") + ")"
	}
	return Verdict{}, miss, nil
}
