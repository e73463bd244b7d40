package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repo(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("ref")
	sha, found := rp.resolve(ref)
	if !found {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	c := s.commitJSON(rp, sha, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repo(w, r)
	if !ok {
		return
	}
	name := r.PathValue("branch")
	sha, found := rp.branches[name]
	if !found {
		s.mu.Unlock()
		notFound(w, "Branch not found")
		return
	}
	api := s.URL + "/repos/" + rp.fullName() + "/branches/" + name
	b := branchJSON{
		Name: name, Commit: s.commitJSON(rp, sha, false),
		Links:         map[string]string{"self": api, "html": htmlRoot + "/" + rp.fullName() + "/tree/" + name},
		Protection:    map[string]any{"enabled": false, "required_status_checks": map[string]any{"enforcement_level": "off", "contexts": []string{}, "checks": []string{}}},
		ProtectionURL: api + "/protection",
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) getCompare(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repo(w, r)
	if !ok {
		return
	}
	status, body := s.compare(rp, r.PathValue("basehead"))
	s.mu.Unlock()
	writeJSON(w, status, body)
}

// compare answers a comparison; s.mu is held.
func (s *Server) compare(rp *Repo, basehead string) (int, any) {
	baseRef, headRef, ok := strings.Cut(basehead, "...")
	if !ok || !validRef(baseRef) || !validRef(headRef) {
		return http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/commits/commits#compare-two-commits", "status": "422",
			"errors": []map[string]string{{"resource": "Comparison", "field": "basehead", "code": "invalid"}}}
	}
	base, okB := rp.resolve(baseRef)
	head, okH := rp.resolve(headRef)
	if !okB || !okH {
		return http.StatusNotFound, errorBody{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest", Status: "404"}
	}
	// The first-parent chain from head down to the first commit that base
	// also has is what head has on its own; likewise for base.
	inBase := rp.ancestors(base)
	var ahead []string // head's own commits, newest first
	mb := head
	for mb != "" && !inBase[mb] {
		ahead = append(ahead, mb)
		mb = rp.parent[mb]
	}
	if mb == "" {
		return http.StatusNotFound, errorBody{Message: fmt.Sprintf("No common ancestor between %s and %s.", baseRef, headRef),
			DocumentationURL: "https://docs.github.com/rest/commits/commits#compare-two-commits", Status: "404"}
	}
	behind := 0
	for c := base; c != mb; c = rp.parent[c] {
		behind++
	}
	status := "identical"
	switch {
	case len(ahead) > 0 && behind > 0:
		status = "diverged"
	case len(ahead) > 0:
		status = "ahead"
	case behind > 0:
		status = "behind"
	}
	slices.Reverse(ahead)
	commits := []commitJSON{}
	for _, c := range ahead[:min(len(ahead), 250)] {
		commits = append(commits, s.commitJSON(rp, c, false))
	}
	api := s.URL + "/repos/" + rp.fullName()
	html := htmlRoot + "/" + rp.fullName()
	bh := baseRef + "..." + headRef
	out := compareJSON{
		URL: api + "/compare/" + bh, HTMLURL: html + "/compare/" + bh,
		PermalinkURL: html + "/compare/" + rp.owner + ":" + base[:7] + "..." + rp.owner + ":" + head[:7],
		DiffURL:      html + "/compare/" + bh + ".diff", PatchURL: html + "/compare/" + bh + ".patch",
		BaseCommit: s.commitJSON(rp, base, false), MergeBaseCommit: s.commitJSON(rp, mb, false),
		Status: status, AheadBy: len(ahead), BehindBy: behind, TotalCommits: len(ahead),
		Commits: commits, Files: []fileJSON{},
	}
	if len(ahead) > 0 {
		out.Files = rp.files(head)
	}
	return http.StatusOK, out
}

func (s *Server) getPulls(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repo(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("ref")
	sha, found := rp.resolve(ref)
	if _, isBranch := rp.branches[ref]; !found || isBranch {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	perPage, page := 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	onDefault := rp.ancestors(rp.branches[rp.defBr])[sha]
	var all []pullJSON
	for _, p := range rp.pulls {
		if p.contains[sha] && (!onDefault || p.Merged) {
			all = append(all, s.pullJSON(rp, p))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b pullJSON) int { return a.Number - b.Number })
	lo := min((page-1)*perPage, len(all))
	hi := min(lo+perPage, len(all))
	if hi < len(all) {
		next := fmt.Sprintf("%s/repos/%s/%s/commits/%s/pulls?per_page=%d&page=%d", s.URL, r.PathValue("owner"), r.PathValue("repo"), ref, perPage, page+1)
		w.Header().Set("Link", `<`+next+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, append([]pullJSON{}, all[lo:hi]...))
}

// validRef is the fake's own reading of git's ref-name rules, for compare.
func validRef(ref string) bool {
	if ref == "" || ref == "@" || strings.Contains(ref, "..") || strings.Contains(ref, "@{") || strings.Contains(ref, "//") ||
		strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock") {
		return false
	}
	return !strings.ContainsFunc(ref, func(c rune) bool {
		return c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c)
	})
}
