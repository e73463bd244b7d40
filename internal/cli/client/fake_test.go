package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// fakeGateway implements the gateway's side of the CLI contract: the
// browser login (/auth/cli, /api/v1/cli/login/claim), /api/v1/me and the
// caller's sessions. One user per fake.
type fakeGateway struct {
	t     *testing.T
	srv   *httptest.Server
	email string
	role  string

	mu           sync.Mutex
	pendingPolls int    // pending answers per login before success
	claimStatus  int    // if set, every claim answers this status ...
	claimReason  string // ... with this reason
	tamper       bool   // record a wrong challenge (verifier mismatch)
	logins       map[string]*fakeLogin
	sessions     []*fakeSession
	apiTokens    map[string]string // CI token → token name
	apiFail      string            // if set, /api/v1/* answer 401/403/503 with this reason
	bearers      []string          // Authorization tokens seen on /api/v1/me
	deleted      []int64           // sessions DELETEd
	verifierOK   int               // claims whose verifier matched the challenge
	pages        int               // GET /auth/cli served
	onRevoke     func()            // if set, runs when a session is revoked (with mu held)
}

type fakeLogin struct {
	challenge, name string
	completed       bool // logged in in the browser
	polls           int  // pending answers given after completion
	claimed         bool
}

type fakeSession struct {
	id      int64
	token   string
	name    string
	revoked bool
}

func newFakeGateway(t *testing.T, email, role string) *fakeGateway {
	f := &fakeGateway{t: t, email: email, role: role, pendingPolls: 2,
		logins: map[string]*fakeLogin{}, apiTokens: map[string]string{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /auth/cli", f.confirm)
	m.HandleFunc("POST /auth/cli", f.approve)
	m.HandleFunc("POST /api/v1/cli/login/claim", f.claim)
	m.HandleFunc("GET /api/v1/me", f.me)
	m.HandleFunc("GET /api/v1/sessions", f.listSessions)
	m.HandleFunc("DELETE /api/v1/sessions/{id}", f.revoke)
	f.srv = httptest.NewServer(m)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGateway) URL() string { return f.srv.URL }

var b64url = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGateway) params(r *http.Request) (req, ch, name string, ok bool) {
	req, ch, name = r.FormValue("request"), r.FormValue("challenge"), r.FormValue("name")
	ok = len(req) == 43 && b64url.MatchString(req) && len(ch) == 43 && b64url.MatchString(ch) &&
		regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(name)
	return
}

// confirm is the confirmation page the browser opens first: like the real
// one, it stores the login request (so claims answer "pending") but does
// not log in.
func (f *fakeGateway) confirm(w http.ResponseWriter, r *http.Request) {
	req, ch, name, ok := f.params(r)
	if !ok {
		http.Error(w, "malformed login link", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	if f.tamper {
		ch = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	}
	if old, dup := f.logins[req]; dup && (old.challenge != ch || old.name != name) {
		http.Error(w, "login already started", http.StatusConflict)
		return
	} else if !dup {
		f.logins[req] = &fakeLogin{challenge: ch, name: name}
	}
	fmt.Fprintf(w, "<p>Login for %s. Code %s</p>", name, cliVerificationCode(ch))
}

// approve stands for the person continuing on the confirmation page and
// the IdP login then succeeding.
func (f *fakeGateway) approve(w http.ResponseWriter, r *http.Request) {
	req, _, _, ok := f.params(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logins[req]
	if !ok || l == nil {
		http.Error(w, "unknown login", http.StatusBadRequest)
		return
	}
	l.completed = true
	fmt.Fprint(w, "Signed in. You can close this window and return to the terminal.")
}

func (f *fakeGateway) claim(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fakeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
		return
	}
	var in struct{ Request, Verifier string }
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fakeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid claim"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimStatus != 0 {
		fakeJSON(w, f.claimStatus, map[string]string{"error": "forced by the test", "reason": f.claimReason})
		return
	}
	l := f.logins[in.Request]
	if l == nil {
		// As the real gateway: the request is known once the browser
		// opened the confirmation page.
		fakeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown login request; run the login command again", "reason": "unknown_state"})
		return
	}
	sum := sha256.Sum256([]byte(in.Verifier))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != l.challenge {
		fakeJSON(w, http.StatusForbidden, map[string]string{"error": "the verifier does not match this login", "reason": "bad_verifier"})
		return
	}
	f.verifierOK++
	if l.claimed {
		fakeJSON(w, http.StatusConflict, map[string]string{"error": "this login was already claimed", "reason": "state_replayed"})
		return
	}
	if !l.completed {
		fakeJSON(w, http.StatusAccepted, map[string]string{"status": "pending"})
		return
	}
	if l.polls < f.pendingPolls {
		l.polls++
		fakeJSON(w, http.StatusAccepted, map[string]string{"status": "pending"})
		return
	}
	l.claimed = true
	s := &fakeSession{id: int64(100 + len(f.sessions)), token: "rgws_" + randomB64URL(32), name: l.name}
	f.sessions = append(f.sessions, s)
	fakeJSON(w, http.StatusOK, map[string]string{"token": s.token, "email": f.email, "role": f.role,
		"expires_at": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
}

// auth finds the caller's session (or API token name); it answers the
// refusal itself when there is none.
func (f *fakeGateway) auth(w http.ResponseWriter, r *http.Request) (s *fakeSession, tokenName string, ok bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if f.apiFail != "" {
		status := http.StatusUnauthorized
		switch f.apiFail {
		case "missing_permission", "token_scope":
			status = http.StatusForbidden
		case "audit_unavailable", "auth_unavailable":
			status = http.StatusServiceUnavailable
		}
		fakeJSON(w, status, map[string]string{"error": "refused: " + f.apiFail, "reason": f.apiFail})
		return nil, "", false
	}
	if name, ok := f.apiTokens[tok]; ok {
		return nil, name, true
	}
	for _, s := range f.sessions {
		if s.token == tok && tok != "" {
			if s.revoked {
				fakeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required", "reason": "session_revoked"})
				return nil, "", false
			}
			return s, "", true
		}
	}
	fakeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required", "reason": "invalid_credentials"})
	return nil, "", false
}

func (f *fakeGateway) me(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.bearers = append(f.bearers, tok)
	_, tokenName, ok := f.auth(w, r)
	if !ok {
		return
	}
	kind := "user"
	if tokenName != "" {
		kind = "token"
	}
	fakeJSON(w, http.StatusOK, map[string]any{"email": f.email, "kind": kind, "role": f.role, "token_name": tokenName,
		"permissions": []string{"app:read"}})
}

func (f *fakeGateway) listSessions(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	me, _, ok := f.auth(w, r)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, s := range f.sessions {
		v := map[string]any{"id": s.id, "user": f.email, "kind": "cli", "name": s.name, "revoked": s.revoked,
			"created_at": "2026-01-01T00:00:00Z", "last_seen_at": "2026-01-01T00:00:00Z", "expires_at": "2026-02-01T00:00:00Z"}
		if s == me {
			v["current"] = true
		}
		out = append(out, v)
	}
	fakeJSON(w, http.StatusOK, out)
}

func (f *fakeGateway) revoke(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, ok := f.auth(w, r); !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, s := range f.sessions {
		if s.id == id {
			s.revoked = true
			f.deleted = append(f.deleted, id)
			if f.onRevoke != nil {
				f.onRevoke()
			}
			fakeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
			return
		}
	}
	fakeJSON(w, http.StatusNotFound, map[string]string{"error": "session not found", "reason": "bad_request"})
}

func (f *fakeGateway) lock() func() { f.mu.Lock(); return f.mu.Unlock }

// ---- driving the CLI ----

// clientEnv is a hermetic environment: its own config home, no browser.
func clientEnv(t *testing.T) map[string]string {
	return map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "PATH": t.TempDir()}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// fastPoll makes the CLI poll the claim endpoint quickly.
func fastPoll(t *testing.T) {
	old := claimInterval
	claimInterval = 10 * time.Millisecond
	t.Cleanup(func() { claimInterval = old })
}

type running struct {
	out, errb syncBuffer
	done      chan int
}

// start runs the command line in the background.
func start(env map[string]string, args ...string) *running {
	r := &running{done: make(chan int, 1)}
	e := &cmdutil.Env{Stdout: &r.out, Stderr: &r.errb, Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader("")}
	go func() { r.done <- runLine(context.Background(), e, args) }()
	return r
}

func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("command did not finish; stderr:\n%s", r.errb.String())
		return -1
	}
}

var loginURLRe = regexp.MustCompile(`https?://\S+/auth/cli\?\S+`)

// browse plays the person at the browser: it opens the login page and
// continues, like clicking the button (and the IdP login succeeding).
func browse(t *testing.T, loginURL string) {
	t.Helper()
	u, err := url.Parse(loginURL)
	if err != nil {
		t.Errorf("login URL %q: %v", loginURL, err)
		return
	}
	resp, err := http.Get(loginURL)
	if err != nil {
		t.Errorf("GET login page: %v", err)
		return
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("login page: %d %s", resp.StatusCode, page)
		return
	}
	u.RawQuery = ""
	resp, err = http.PostForm(u.String(), must(url.ParseQuery(strings.SplitN(loginURL, "?", 2)[1])))
	if err != nil {
		t.Errorf("POST /auth/cli: %v", err)
		return
	}
	resp.Body.Close()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// browserScript writes a RACK_GATEWAY_BROWSER command that appends the URL
// it is given to a file, and returns the command and a function that waits
// for the next URL written.
func browserScript(t *testing.T) (string, func() string) {
	dir := t.TempDir()
	file := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '"+file+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	seen := 0
	return script, func() string {
		var line string
		if !testutil.Poll(testutil.Patience, func() bool {
			b, _ := os.ReadFile(file)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(b) > 0 && len(lines) > seen {
				seen++
				line = lines[seen-1]
				return true
			}
			return false
		}) {
			t.Error("the browser was not opened")
		}
		return line
	}
}

// login logs in to f as name (headless: the URL is read from stderr).
func login(t *testing.T, env map[string]string, f *fakeGateway, extra ...string) string {
	t.Helper()
	args := append([]string{"login", f.URL(), "--no-browser"}, extra...)
	r := start(env, args...)
	var u string
	testutil.Poll(testutil.Patience, func() bool { u = loginURLRe.FindString(r.errb.String()); return u != "" })
	if u == "" {
		t.Fatalf("no login URL printed: %s", r.errb.String())
	}
	browse(t, u)
	if code := r.wait(t); code != 0 {
		t.Fatalf("login exit %d: %s", code, r.errb.String())
	}
	return r.out.String()
}

// readConfig reads the saved config file directly.
func readConfig(t *testing.T, env map[string]string) (clientConfig, os.FileInfo) {
	t.Helper()
	p := filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	var c clientConfig
	if err := json.Unmarshal(must(os.ReadFile(p)), &c); err != nil {
		t.Fatal(err)
	}
	return c, fi
}
