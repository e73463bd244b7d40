package githubtest

import (
	"fmt"
	"strings"
)

// The JSON shapes GitHub answers with, trimmed to the fields that matter but
// in GitHub's own key order (structs, not maps: a comparison's "status"
// comes before its "commits" and "files", as on GitHub).

const htmlRoot = "https://github.com"

type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

type account struct {
	Login string `json:"login"`
	ID    int    `json:"id"`
	Type  string `json:"type"`
}

type person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

type gitCommit struct {
	Author       person         `json:"author"`
	Committer    person         `json:"committer"`
	Message      string         `json:"message"`
	Tree         map[string]any `json:"tree"`
	URL          string         `json:"url"`
	CommentCount int            `json:"comment_count"`
	Verification map[string]any `json:"verification"`
}

type parentRef struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url"`
}

type commitJSON struct {
	SHA         string         `json:"sha"`
	NodeID      string         `json:"node_id"`
	Commit      gitCommit      `json:"commit"`
	URL         string         `json:"url"`
	HTMLURL     string         `json:"html_url"`
	CommentsURL string         `json:"comments_url"`
	Author      *account       `json:"author"`
	Committer   *account       `json:"committer"`
	Parents     []parentRef    `json:"parents"`
	Stats       map[string]int `json:"stats,omitempty"`
	Files       []fileJSON     `json:"files,omitempty"`
}

type fileJSON struct {
	SHA       string `json:"sha"`
	Filename  string `json:"filename"`
	Status    string `json:"status"`
	Additions int    `json:"additions"`
	Deletions int    `json:"deletions"`
	Changes   int    `json:"changes"`
	BlobURL   string `json:"blob_url"`
	RawURL    string `json:"raw_url"`
	Patch     string `json:"patch"`
}

type branchJSON struct {
	Name          string            `json:"name"`
	Commit        commitJSON        `json:"commit"`
	Links         map[string]string `json:"_links"`
	Protected     bool              `json:"protected"`
	Protection    map[string]any    `json:"protection"`
	ProtectionURL string            `json:"protection_url"`
}

type compareJSON struct {
	URL             string       `json:"url"`
	HTMLURL         string       `json:"html_url"`
	PermalinkURL    string       `json:"permalink_url"`
	DiffURL         string       `json:"diff_url"`
	PatchURL        string       `json:"patch_url"`
	BaseCommit      commitJSON   `json:"base_commit"`
	MergeBaseCommit commitJSON   `json:"merge_base_commit"`
	Status          string       `json:"status"`
	AheadBy         int          `json:"ahead_by"`
	BehindBy        int          `json:"behind_by"`
	TotalCommits    int          `json:"total_commits"`
	Commits         []commitJSON `json:"commits"`
	Files           []fileJSON   `json:"files"`
}

type repoJSON struct {
	ID            int     `json:"id"`
	NodeID        string  `json:"node_id"`
	Name          string  `json:"name"`
	FullName      string  `json:"full_name"`
	Private       bool    `json:"private"`
	Owner         account `json:"owner"`
	HTMLURL       string  `json:"html_url"`
	Fork          bool    `json:"fork"`
	URL           string  `json:"url"`
	DefaultBranch string  `json:"default_branch"`
}

type prRef struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  account   `json:"user"`
	Repo  *repoJSON `json:"repo"`
}

type pullJSON struct {
	URL               string  `json:"url"`
	ID                int     `json:"id"`
	NodeID            string  `json:"node_id"`
	HTMLURL           string  `json:"html_url"`
	DiffURL           string  `json:"diff_url"`
	PatchURL          string  `json:"patch_url"`
	IssueURL          string  `json:"issue_url"`
	Number            int     `json:"number"`
	State             string  `json:"state"`
	Locked            bool    `json:"locked"`
	Title             string  `json:"title"`
	User              account `json:"user"`
	Body              *string `json:"body"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
	ClosedAt          *string `json:"closed_at"`
	MergedAt          *string `json:"merged_at"`
	MergeCommitSHA    *string `json:"merge_commit_sha"`
	Draft             bool    `json:"draft"`
	Head              prRef   `json:"head"`
	Base              prRef   `json:"base"`
	AuthorAssociation string  `json:"author_association"`
}

const when = "2026-01-02T03:04:05Z"

func (s *Server) commitJSON(r *Repo, sha string, full bool) commitJSON {
	api := s.URL + "/repos/" + r.fullName()
	c := commitJSON{
		SHA:    sha,
		NodeID: "C_" + sha[:20],
		Commit: gitCommit{
			Author:       person{Name: "Dev", Email: "dev@example.com", Date: when},
			Committer:    person{Name: "Dev", Email: "dev@example.com", Date: when},
			Message:      "commit " + sha[:7],
			Tree:         map[string]any{"sha": SHA("tree:" + sha), "url": api + "/git/trees/" + SHA("tree:"+sha)},
			URL:          api + "/git/commits/" + sha,
			Verification: map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil},
		},
		URL:         api + "/commits/" + sha,
		HTMLURL:     htmlRoot + "/" + r.fullName() + "/commit/" + sha,
		CommentsURL: api + "/commits/" + sha + "/comments",
		Parents:     []parentRef{},
	}
	if p := r.parent[sha]; p != "" {
		c.Parents = append(c.Parents, parentRef{SHA: p, URL: api + "/commits/" + p, HTMLURL: htmlRoot + "/" + r.fullName() + "/commit/" + p})
	}
	if full {
		c.Stats = map[string]int{"total": 1, "additions": 1, "deletions": 0}
		c.Files = r.files(sha)
	}
	return c
}

// files is a commit's (or comparison's) changed files: one, whose patch is
// padded to the repository's PadFiles size.
func (r *Repo) files(sha string) []fileJSON {
	return []fileJSON{{
		SHA: SHA("blob:" + sha), Filename: "app.txt", Status: "modified", Additions: 1, Changes: 1,
		BlobURL: htmlRoot + "/" + r.fullName() + "/blob/" + sha + "/app.txt",
		RawURL:  htmlRoot + "/" + r.fullName() + "/raw/" + sha + "/app.txt",
		Patch:   "@@ -1 +1 @@\n+" + strings.Repeat("x", r.pad),
	}}
}

func (s *Server) repoJSON(r *Repo) *repoJSON {
	return &repoJSON{
		ID: r.id, NodeID: fmt.Sprintf("R_%d", r.id), Name: r.name, FullName: r.fullName(), Private: true,
		Owner:   account{Login: r.owner, ID: r.id * 10, Type: "Organization"},
		HTMLURL: htmlRoot + "/" + r.fullName(), URL: s.URL + "/repos/" + r.fullName(), DefaultBranch: r.defBr,
	}
}

func (s *Server) pullJSON(r *Repo, p *pullReq) pullJSON {
	api := s.URL + "/repos/" + r.fullName()
	html := htmlRoot + "/" + r.fullName()
	dev := account{Login: "dev", ID: 7, Type: "User"}
	out := pullJSON{
		URL: fmt.Sprintf("%s/pulls/%d", api, p.Number), ID: 1000 + p.Number, NodeID: fmt.Sprintf("PR_%d", p.Number),
		HTMLURL: fmt.Sprintf("%s/pull/%d", html, p.Number), DiffURL: fmt.Sprintf("%s/pull/%d.diff", html, p.Number),
		PatchURL: fmt.Sprintf("%s/pull/%d.patch", html, p.Number), IssueURL: fmt.Sprintf("%s/issues/%d", api, p.Number),
		Number: p.Number, State: p.State, Title: p.Title, User: dev, CreatedAt: when, UpdatedAt: when,
		Head:              prRef{Label: r.owner + ":" + p.HeadRef, Ref: p.HeadRef, SHA: p.HeadSHA, User: dev, Repo: s.repoJSON(r)},
		Base:              prRef{Label: r.owner + ":" + p.BaseRef, Ref: p.BaseRef, SHA: p.baseSHA, User: account{Login: r.owner, ID: r.id * 10, Type: "Organization"}, Repo: s.repoJSON(r)},
		AuthorAssociation: "MEMBER",
	}
	switch p.HeadRepo {
	case "":
	case "-":
		out.Head.Repo = nil
		out.AuthorAssociation = "CONTRIBUTOR"
	default:
		owner, name, _ := strings.Cut(p.HeadRepo, "/")
		fork := &repoJSON{ID: 9000 + r.id, NodeID: "R_fork", Name: name, FullName: p.HeadRepo, Owner: account{Login: owner, ID: 99, Type: "User"},
			HTMLURL: htmlRoot + "/" + p.HeadRepo, Fork: true, URL: s.URL + "/repos/" + p.HeadRepo, DefaultBranch: "main"}
		out.Head.Repo, out.Head.Label, out.Head.User = fork, owner+":"+p.HeadRef, fork.Owner
		out.AuthorAssociation = "CONTRIBUTOR"
	}
	if p.State == "closed" {
		t := when
		out.ClosedAt = &t
		if p.Merged {
			m := SHA("merge:" + p.HeadSHA)
			out.MergedAt, out.MergeCommitSHA = &t, &m
		}
	}
	return out
}
