package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// SHA returns a deterministic 40-hex commit SHA for a label, so tests can
// name commits ("main-1", "feature-2") and still use real-looking SHAs.
func SHA(label string) string {
	s := sha1.Sum([]byte("githubtest:" + label))
	return hex.EncodeToString(s[:])
}

// Repo is one repository of the fake. Its history is a set of commits with
// parents (no merges are needed by the checks); branches point at commits.
type Repo struct {
	s        *Server
	id       int
	owner    string
	name     string
	parent   map[string]string // sha → first parent ("" for a root)
	branches map[string]string // name → head sha
	defBr    string
	pulls    []*pullReq
	pad      int // bytes of patch text in each commit's and comparison's files
}

// PR describes a pull request to add with Repo.PullRequest.
type PR struct {
	Number  int
	Title   string
	State   string // "open" or "closed"
	Merged  bool   // with State "closed": merged rather than just closed
	HeadRef string // the head branch's name
	HeadSHA string // the head commit (must exist)
	BaseRef string // the base branch (must exist)
	// HeadRepo is the full name of the fork the head branch lives in;
	// empty means the repository itself. "-" stands for a deleted fork
	// (GitHub then gives "repo": null).
	HeadRepo string
}

type pullReq struct {
	PR
	baseSHA  string
	contains map[string]bool // the commits of the pull request
}

// Commit adds a commit with its parent ("" for a root commit). Adding a
// known commit again with another parent fails the test.
func (r *Repo) Commit(sha, parent string) {
	r.s.t.Helper()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.addCommit(sha, parent)
}

func (r *Repo) addCommit(sha, parent string) {
	r.s.t.Helper()
	if !isFullSHA(sha) || (parent != "" && !isFullSHA(parent)) {
		r.s.t.Fatalf("githubtest: commit %q (parent %q): SHAs are 40 lowercase hex digits", sha, parent)
	}
	if parent != "" {
		if _, ok := r.parent[parent]; !ok {
			r.s.t.Fatalf("githubtest: commit %s: parent %s is unknown", sha, parent)
		}
	}
	if p, ok := r.parent[sha]; ok && p != parent {
		r.s.t.Fatalf("githubtest: commit %s already has parent %q, not %q", sha, p, parent)
	}
	r.parent[sha] = parent
}

// Branch sets branch name to a first-parent history, oldest commit first:
// each commit's parent is the one before it, the first one's is whatever it
// already had (a root if it is new). The branch's head is the last commit.
// Calling it again moves the branch (e.g. with more commits: a push). The
// first branch made is the default branch.
func (r *Repo) Branch(name string, shas ...string) {
	r.s.t.Helper()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if len(shas) == 0 {
		r.s.t.Fatalf("githubtest: branch %s needs at least one commit", name)
	}
	for i, sha := range shas {
		parent, known := r.parent[sha]
		if i > 0 {
			parent = shas[i-1]
		} else if !known {
			parent = ""
		}
		r.addCommit(sha, parent)
	}
	r.branches[name] = shas[len(shas)-1]
	if r.defBr == "" {
		r.defBr = name
	}
}

// PullRequest adds a pull request. Its commits are those reachable from
// its head and not from its base branch's head, as of now (as GitHub
// records them when the pull request is opened or pushed to).
func (r *Repo) PullRequest(pr PR) {
	r.s.t.Helper()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	base, ok := r.branches[pr.BaseRef]
	if _, known := r.parent[pr.HeadSHA]; !ok || !known || pr.Number <= 0 || (pr.State != "open" && pr.State != "closed") {
		r.s.t.Fatalf("githubtest: pull request %+v: needs a number, state open/closed, a known head commit and an existing base branch", pr)
	}
	if pr.Merged && pr.State != "closed" {
		r.s.t.Fatalf("githubtest: pull request #%d: a merged pull request is closed", pr.Number)
	}
	inBase := r.ancestors(base)
	p := &pullReq{PR: pr, baseSHA: base, contains: map[string]bool{}}
	for sha := range r.ancestors(pr.HeadSHA) {
		if !inBase[sha] {
			p.contains[sha] = true
		}
	}
	r.pulls = append(r.pulls, p)
}

// PadFiles makes the "files" of every commit and comparison answer carry n
// bytes of patch text, as large real diffs do, to test that clients bound
// and stream what they read.
func (r *Repo) PadFiles(n int) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.pad = n
}

// ancestors returns sha and all its ancestors.
func (r *Repo) ancestors(sha string) map[string]bool {
	out := map[string]bool{}
	for sha != "" && !out[sha] {
		out[sha] = true
		sha = r.parent[sha]
	}
	return out
}

// resolve finds a ref the way GitHub does for these endpoints: a branch
// name, a full SHA, or an unambiguous SHA prefix of at least 7 digits.
func (r *Repo) resolve(ref string) (string, bool) {
	if sha, ok := r.branches[ref]; ok {
		return sha, true
	}
	if _, ok := r.parent[ref]; ok {
		return ref, true
	}
	if len(ref) < 7 || len(ref) >= 40 || !isHex(ref) {
		return "", false
	}
	found := ""
	for sha := range r.parent {
		if strings.HasPrefix(sha, ref) {
			if found != "" {
				return "", false
			}
			found = sha
		}
	}
	return found, found != ""
}

func (r *Repo) fullName() string { return r.owner + "/" + r.name }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isFullSHA(s string) bool { return len(s) == 40 && isHex(s) }
