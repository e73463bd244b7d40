// Package githubtest is a fake GitHub REST API (version 2022-11-28) for
// tests, on loopback: it holds repositories with commits, branches and pull
// requests and serves the four endpoints the commit check uses, with
// GitHub's JSON shapes, headers and status codes. It shares no code with
// package deploycheck, so that a mistake in one is not mirrored in the
// other.
//
// Endpoints (GET only; any other method or path is 404 {"message":"Not
// Found",...}):
//   - /repos/{owner}/{repo}/commits/{ref}: the commit (with stats and
//     files); a ref that is no branch, full SHA or unique 7+ digit prefix is
//     422 "No commit found for SHA: <ref>".
//   - /repos/{owner}/{repo}/commits/{sha}/pulls: the pull requests
//     containing the commit; when the commit is on the default branch, only
//     merged ones (GitHub lists just the pull request that merged it then).
//     per_page (default 30, at most 100) and page, with a Link header.
//   - /repos/{owner}/{repo}/compare/{base}...{head}: status ahead, behind,
//     identical or diverged, ahead_by, behind_by, commits, files. A ref
//     that is not a valid ref name, or a basehead without "...", is 422
//     "Validation Failed"; an unknown ref 404 "Not Found"; refs without a
//     common ancestor 404 "No common ancestor between <base> and <head>.".
//   - /repos/{owner}/{repo}/branches/{branch}: the branch (slashes in the
//     name are part of it); unknown is 404 "Branch not found".
//
// Repositories are private and their names case-insensitive, as on GitHub:
// an unknown repository is 404. Every request must carry a User-Agent
// (else 403), "Authorization: Bearer <token>" or "token <token>" (no header:
// 404, as GitHub answers for a private repository; a wrong token: 401 "Bad
// credentials"), an Accept naming application/vnd.github+json (else 415)
// and X-GitHub-Api-Version: 2022-11-28 (else 400; GitHub itself defaults a
// missing version, the fake is stricter so clients are checked).
// Requests that pass those checks count against the rate limit and their
// answers carry x-ratelimit-limit, -remaining, -used, -reset and -resource;
// at zero the answer is 403 "API rate limit exceeded ..." with
// x-ratelimit-remaining: 0.
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIVersion is the only X-GitHub-Api-Version the fake accepts.
const APIVersion = "2022-11-28"

// Server is a fake GitHub API on loopback.
type Server struct {
	// URL is the API root, e.g. http://127.0.0.1:1234 (use it as the
	// client's base URL).
	URL string

	t     testing.TB
	hs    *httptest.Server
	token string

	mu        sync.Mutex
	repos     map[string]*Repo // by lowercased full name
	limit     int
	remaining int
	reset     time.Time
	secondary int      // 0, or the status of a secondary rate limit answer (403 or 429)
	requests  []string // "GET /escaped/path?query", in order
}

// NewServer starts a fake that accepts token, with a full rate limit of
// 5000 requests, and stops it when the test ends.
func NewServer(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{t: t, token: token, repos: map[string]*Repo{}, limit: 5000, remaining: 5000,
		reset: time.Now().Add(time.Hour).Truncate(time.Second)}
	s.hs = httptest.NewServer(s.handler())
	s.URL = s.hs.URL
	t.Cleanup(s.hs.Close)
	return s
}

// Repo returns the repository fullName ("owner/name"), creating it empty.
func (s *Server) Repo(fullName string) *Repo {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(fullName)
	if r := s.repos[key]; r != nil {
		return r
	}
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		s.t.Fatalf("githubtest: repository %q is not owner/name", fullName)
	}
	r := &Repo{s: s, id: len(s.repos) + 1, owner: owner, name: name, parent: map[string]string{}, branches: map[string]string{}}
	s.repos[key] = r
	return r
}

// SetRateLimitRemaining sets how many more requests are served before the
// rate limit is exhausted.
func (s *Server) SetRateLimitRemaining(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining = n
}

// ExhaustRateLimit makes every authenticated request answer 403 with
// x-ratelimit-remaining: 0.
func (s *Server) ExhaustRateLimit() { s.SetRateLimitRemaining(0) }

// SecondaryRateLimit makes every authenticated request answer status (403
// or 429) with Retry-After: 60, as GitHub's secondary rate limits do; 0
// turns it off.
func (s *Server) SecondaryRateLimit(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondary = status
}

// Requests returns the requests received so far, as "METHOD /path?query"
// with the path as sent (escaped).
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/repos/{owner}/{repo}/commits/{ref}", s.getCommit)
	mux.HandleFunc("/repos/{owner}/{repo}/commits/{ref}/pulls", s.getPulls)
	mux.HandleFunc("/repos/{owner}/{repo}/compare/{basehead...}", s.getCompare)
	mux.HandleFunc("/repos/{owner}/{repo}/branches/{branch...}", s.getBranch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w, "Not Found") })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		w.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%d", time.Now().UnixNano()))
		if s.refuse(w, r) {
			return
		}
		if r.Method != http.MethodGet {
			notFound(w, "Not Found")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// refuse answers the request itself when its headers or the rate limit
// say so, in GitHub's order: user agent, credentials, media type, API
// version, rate limit.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request) bool {
	if r.UserAgent() == "" {
		writeError(w, http.StatusForbidden, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).")
		return true
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		notFound(w, "Not Found")
		return true
	}
	scheme, tok, _ := strings.Cut(auth, " ")
	if (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "token")) || tok != s.token {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return true
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/vnd.github+json") {
		writeError(w, http.StatusUnsupportedMediaType, "Unsupported 'Accept' header: "+strconv.Quote(r.Header.Get("Accept"))+". Must accept 'application/json'.")
		return true
	}
	if v := r.Header.Get("X-GitHub-Api-Version"); v != APIVersion {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("API version %s is not supported.", v))
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := w.Header()
	if s.secondary != 0 {
		h.Set("Retry-After", "60")
		writeError(w, s.secondary, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
		return true
	}
	exhausted := s.remaining <= 0
	if !exhausted {
		s.remaining--
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(max(s.remaining, 0)))
	h.Set("X-Ratelimit-Used", strconv.Itoa(s.limit-max(s.remaining, 0)))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	h.Set("X-Ratelimit-Resource", "core")
	if exhausted {
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 7. If you reach out to GitHub Support for help, please include the request ID FAKE and timestamp "+time.Now().UTC().Format("2006-01-02 15:04:05 UTC")+".")
		return true
	}
	return false
}

// repo finds the request's repository (case-insensitively) or answers 404.
// It returns with s.mu held when it found one.
func (s *Server) repo(w http.ResponseWriter, r *http.Request) (*Repo, bool) {
	s.mu.Lock()
	rp := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	if rp == nil {
		s.mu.Unlock()
		notFound(w, "Not Found")
		return nil, false
	}
	return rp, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", APIVersion)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Message: msg, DocumentationURL: "https://docs.github.com/rest", Status: strconv.Itoa(status)})
}

func notFound(w http.ResponseWriter, msg string) { writeError(w, http.StatusNotFound, msg) }
