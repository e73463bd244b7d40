// Package e2e runs the real rack-gateway binary as subprocesses: several
// gateways on one PostgreSQL audit chain, and a gateway killed with SIGKILL
// in the middle of a burst of mutating calls.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// binary is the rack-gateway executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "rgw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "rack-gateway")
	build := exec.Command("go", "build", "-o", binary, "./cmd/rack-gateway")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building rack-gateway:", err)
		return 1
	}
	return m.Run()
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// baseEnv is the test's environment without RGW_* variables (so a
// developer's configuration cannot leak into the subprocesses), plus extra.
func baseEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RGW_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// syncBuffer is a bytes.Buffer safe for a subprocess writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running subprocess.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error // valid after done is closed
}

// start runs the binary with args and env; the process is killed at the
// end of the test and its output printed if the test failed.
func start(t *testing.T, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = baseEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- output of %s (pid %d, exit %v) ----\n%s", p.name, p.cmd.Process.Pid, p.err, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within 20s of SIGTERM:\n%s", p.name, p.stderr.String())
	}
	if p.err != nil {
		t.Fatalf("%s exited with %v after SIGTERM:\n%s", p.name, p.err, p.stderr.String())
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	<-p.done
}

// cli runs the binary to completion and returns its stdout and stderr.
func cli(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = baseEnv(env)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mustCLI is cli that fails the test on a non-zero exit.
func mustCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := cli(t, env, args...)
	if err != nil {
		t.Fatalf("rack-gateway %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitHealthy polls GET base/healthz until it answers 200.
func waitHealthy(t *testing.T, p *proc, base string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	ok := testutil.Poll(testutil.Patience, func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited before becoming ready (%v):\n%s", p.name, p.err, p.stderr.String())
		default:
		}
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("%s not healthy at %s within %v:\n%s", p.name, base, testutil.Patience, p.stderr.String())
	}
}

// waitListening polls a TCP address until it accepts connections.
func waitListening(t *testing.T, p *proc, addr string) {
	t.Helper()
	ok := testutil.Poll(testutil.Patience, func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening (%v):\n%s", p.name, p.err, p.stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if !ok {
		t.Fatalf("%s not listening on %s within %v:\n%s", p.name, addr, testutil.Patience, p.stderr.String())
	}
}

// setup is what every test needs: keys, an anchor dir, a simulated rack,
// a migrated database with an admin and an API token.
type setup struct {
	dir      string
	dsn      string
	token    string
	auditEnv map[string]string // keys and anchors, for serve and verify
	rackURL  string
	rackPass string
}

func newSetup(t *testing.T, dsn string) *setup {
	t.Helper()
	s := &setup{dir: t.TempDir(), dsn: dsn, rackPass: "simrack-pw-e2e"}
	sk, hk := filepath.Join(s.dir, "signing.key"), filepath.Join(s.dir, "hmac.key")
	anchors := filepath.Join(s.dir, "anchors")
	if err := os.Mkdir(anchors, 0o700); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, nil, "audit", "keygen", "--signing-key", sk, "--hmac-key", hk)
	s.auditEnv = map[string]string{
		"RGW_DATABASE_URL":           dsn,
		"RGW_AUDIT_SIGNING_KEY_FILE": sk,
		"RGW_AUDIT_HMAC_KEY_FILE":    hk,
		"RGW_AUDIT_ANCHOR_DIR":       anchors,
		"RGW_MFA_ENCRYPTION_KEYS":    e2eMFAKeys,
	}
	db := map[string]string{"RGW_DATABASE_URL": dsn}
	mustCLI(t, db, "migrate")
	mustCLI(t, db, "admin", "create-user", "e2e-admin@example.com", "--role", "admin")
	s.token = strings.TrimSpace(mustCLI(t, db, "token", "create", "--user", "e2e-admin@example.com", "--name", "e2e"))
	if s.token == "" || strings.ContainsAny(s.token, " \n") {
		t.Fatalf("token create printed %q, want one token", s.token)
	}

	rackAddr := freeAddr(t)
	rack := start(t, "simrack", nil, "simrack", "--addr", rackAddr, "--password", s.rackPass)
	waitListening(t, rack, rackAddr)
	s.rackURL = "http://" + rackAddr
	return s
}

// serve starts a gateway and waits until it is healthy; it returns the
// process and its base URL.
func (s *setup) serve(t *testing.T, name string) (*proc, string) {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{
		"RGW_ADDR":                      addr,
		"RGW_RACK_URL":                  s.rackURL,
		"RGW_RACK_PASSWORD":             s.rackPass,
		"RGW_AUDIT_CHECKPOINT_EVERY":    "50",
		"RGW_AUDIT_CHECKPOINT_INTERVAL": "1s",
		"RGW_SHUTDOWN_TIMEOUT":          "10s",
	}
	for k, v := range s.auditEnv {
		env[k] = v
	}
	p := start(t, name, env, "serve")
	base := "http://" + addr
	waitHealthy(t, p, base)
	return p, base
}

// verify runs "rack-gateway audit verify" and requires OK.
func (s *setup) verify(t *testing.T) string {
	t.Helper()
	out, errOut, err := cli(t, s.auditEnv, "audit", "verify")
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "OK") {
		t.Fatalf("audit verify: exit %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	t.Logf("audit verify: %s", strings.TrimSpace(out))
	return out
}

// result is one call as the client saw it.
type result struct {
	status    int
	requestID string
	err       error
}

// call makes one request with the token and reads the whole response.
func call(c *http.Client, method, url, token, userAgent string, body string) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{err: err}
	}
	req.SetBasicAuth("convox", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return result{status: resp.StatusCode, err: err}
	}
	return result{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")}
}

// mutatePath is a cheap mutating call that the simulated rack answers 200.
const mutatePath = "/rack/apps/myapp/services/web/restart"

// readPath is a cheap read.
const readPath = "/rack/apps/myapp"

// e2eMFAKeys seals TOTP secrets in the gateways these tests start.
const e2eMFAKeys = "e2e:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
