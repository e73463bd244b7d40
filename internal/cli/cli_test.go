package cli

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/server"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := Run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestServeRejectsBadConfigNamingTheSetting(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "gw.db")
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no rack", map[string]string{"RGW_DATABASE_URL": db}, "RGW_RACK_URL"},
		{"plain http to a remote rack", map[string]string{"RGW_DATABASE_URL": db, "RGW_RACK_URL": "http://rack.example.com", "RGW_RACK_PASSWORD": "x"}, "plain http is allowed only for loopback"},
		{"no password", map[string]string{"RGW_DATABASE_URL": db, "RGW_RACK_URL": "https://rack.example.com"}, "RGW_RACK_PASSWORD"},
		{"bad database", map[string]string{"RGW_DATABASE_URL": "mysql://x", "RGW_RACK_URL": "https://r.example.com", "RGW_RACK_PASSWORD": "x"}, "RGW_DATABASE_URL"},
		{"bad duration", map[string]string{"RGW_REQUEST_TIMEOUT": "soon"}, "RGW_REQUEST_TIMEOUT"},
		{"bad pin", map[string]string{"RGW_DATABASE_URL": db, "RGW_RACK_URL": "https://r.example.com", "RGW_RACK_PASSWORD": "x", "RGW_RACK_PIN_SHA256": "abc"}, "RGW_RACK_PIN_SHA256"},
		{"bad log level", map[string]string{"RGW_DATABASE_URL": db, "RGW_RACK_URL": "https://r.example.com", "RGW_RACK_PASSWORD": "x", "RGW_LOG_LEVEL": "loud"}, "RGW_LOG_LEVEL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, c.env, "serve")
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, stderr, c.want)
			}
		})
	}
}

func TestBootstrapVerbs(t *testing.T) {
	env := map[string]string{"RGW_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "gw.db")}
	if code, _, stderr := run(t, env, "admin", "create-user", "Alice@Example.com", "--role", "admin", "--name", "Alice"); code != 0 {
		t.Fatalf("create-user: %s", stderr)
	}
	if code, _, stderr := run(t, env, "admin", "create-user", "bob@example.com", "--role", "root"); code != 1 || !strings.Contains(stderr, "unknown role") {
		t.Fatalf("bad role accepted: %d %s", code, stderr)
	}
	if code, _, stderr := run(t, env, "admin", "create-user", "alice@example.com", "--role", "viewer"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate user: %d %s", code, stderr)
	}
	code, out, stderr := run(t, env, "token", "create", "--user", "alice@example.com", "--name", "ci", "--permissions", "app:read,log:read", "--expires", "24h")
	if code != 0 || !regexp.MustCompile(`^rgw_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("token create: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := run(t, env, "token", "create", "--user", "alice@example.com", "--name", "x", "--permissions", "app:fly"); code != 1 || !strings.Contains(stderr, "unknown permission") {
		t.Fatalf("bad permission accepted: %d %s", code, stderr)
	}
	code, out, _ = run(t, env, "token", "list")
	if code != 0 || !strings.Contains(out, "ci") || !strings.Contains(out, "alice@example.com") || strings.Contains(out, "rgw_") && strings.Count(out, "…") != 1 {
		t.Fatalf("token list: %s", out)
	}
	if code, out, _ := run(t, env, "token", "revoke", "1"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %s", out)
	}
	if code, out, _ := run(t, env, "admin", "users"); code != 0 || !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "admin") {
		t.Fatalf("users: %s", out)
	}
	code, out, _ = run(t, env, "audit", "tail", "-n", "10")
	for _, want := range []string{"user.create", "token.create", "token.revoke"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("audit tail lacks %s:\n%s", want, out)
		}
	}
}

var rackURLLine = regexp.MustCompile(`RACK_URL=http://convox:(rgw_[A-Za-z0-9_-]+)@([0-9.:]+)/rack convox apps`)

func startDev(t *testing.T, data string) (context.CancelFunc, chan int, map[string]string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, e, []string{"dev", "--data", data, "--addr", "127.0.0.1:0"}) }()
	var m [][]string
	testutil.Poll(testutil.Patience, func() bool {
		select {
		case code := <-done:
			t.Fatalf("dev exited %d: %s", code, errb.String())
		default:
		}
		m = rackURLLine.FindAllStringSubmatch(out.String(), -1)
		return len(m) == 4
	})
	if len(m) == 4 {
		tokens := map[string]string{}
		for i, u := range server.DemoUsers() {
			tokens[u.Role] = m[i][1]
		}
		return cancel, done, tokens, m[0][2]
	}
	cancel()
	t.Fatalf("no quick-start printed: %s %s", out.String(), errb.String())
	return nil, nil, nil, ""
}

func TestDevModeStartsStopsAndReuses(t *testing.T) {
	data := t.TempDir()
	cancel, done, tokens, addr := startDev(t, data)
	get := func(token string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/rack/apps", nil)
		req.SetBasicAuth("convox", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for role, tok := range tokens {
		if s := get(tok); s != 200 {
			t.Errorf("%s: GET /rack/apps = %d", role, s)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exit %d after Ctrl-C", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not stop")
	}
	cancel2, done2, tokens2, addr2 := startDev(t, data)
	defer func() { cancel2(); <-done2 }()
	for role := range tokens {
		if tokens2[role] != tokens[role] {
			t.Errorf("%s: token changed across restarts", role)
		}
	}
	addr = addr2
	if s := get(tokens2["viewer"]); s != 200 {
		t.Errorf("after restart: %d", s)
	}
}
