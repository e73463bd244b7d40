package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// serveWithConfig is setup.serve with a JSON configuration file too (the
// approval rules are JSON configuration only).
func (s *setup) serveWithConfig(t *testing.T, name string, cfg any) (*proc, string) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(s.dir, name+".json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := map[string]string{"RGW_ADDR": addr, "RGW_RACK_URL": s.rackURL, "RGW_RACK_PASSWORD": s.rackPass,
		"RGW_SHUTDOWN_TIMEOUT": "10s", "RGW_PUBLIC_URL": "http://" + addr}
	for k, v := range s.auditEnv {
		env[k] = v
	}
	p := start(t, name, env, "serve", "--config", file)
	base := "http://" + addr
	waitHealthy(t, p, base)
	return p, base
}

var requestedLine = regexp.MustCompile(`Requested deploy approval #([0-9]+)`)

// waitRequested returns the id a waiting `deploy-approval request --wait`
// printed.
func waitRequested(t *testing.T, p *proc) string {
	t.Helper()
	var id string
	testutil.Eventually(t, "the request to be made", func() bool {
		if m := requestedLine.FindStringSubmatch(p.stderr.String()); m != nil {
			id = m[1]
			return true
		}
		select {
		case <-p.done:
			t.Fatalf("the request exited: %v\n%s", p.err, p.stderr.String())
		default:
		}
		return false
	})
	return id
}

// waitExit waits for a process to end by itself.
func waitExit(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(testutil.Patience):
		t.Fatalf("%s did not end:\n%s", p.name, p.stderr.String())
	}
}

// TestDeployApprovalCLI: the built binary as a CI job runs `deploy-approval
// request --wait`, which waits while a person approves with the CLI (a
// second factor read from standard input) and then exits 0; a second
// request is rejected and the waiting job exits non-zero with a clear
// line; list and show print what happened.
func TestDeployApprovalCLI(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "gw.db")
	s := newSetup(t, dsn)
	db := map[string]string{"RGW_DATABASE_URL": dsn}
	mustCLI(t, db, "admin", "create-user", "ci-owner@example.com", "--role", "deployer")
	ciToken := strings.TrimSpace(mustCLI(t, db, "token", "create", "--user", "ci-owner@example.com", "--name", "github-actions"))
	_, base := s.serveWithConfig(t, "gateway", map[string]any{"approvals": map[string]any{
		"rules": []map[string]any{{"rack": "default", "app": "myapp", "approvals": 1}}}})
	home := t.TempDir()
	codes := totpCLISession(t, dsn, base, home, "e2e-admin@example.com").codes
	ci := map[string]string{"RACK_GATEWAY_URL": base, "RACK_GATEWAY_TOKEN": ciToken, "RACK_GATEWAY_POLL_INTERVAL": "100ms"}
	person := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "RACK_GATEWAY_MFA_STDIN": "1"}
	const sha = "0123456789abcdef0123456789abcdef01234567"

	// 1. Approved while CI waits: the job exits 0.
	job := start(t, "ci-job", ci, "deploy-approval", "request", "--rack", "default", "--app", "myapp", "--commit", sha,
		"--branch", "main", "--message", "fix the thing", "--wait", "--timeout", "2m")
	id := waitRequested(t, job)
	// The token's deploys are refused while it waits, naming the request.
	if _, errOut, err := cli(t, ci, "deploy-approval", "approve", id); err == nil || !strings.Contains(errOut, "cannot approve") {
		t.Fatalf("the CI token approving: %v %s", err, errOut)
	}
	out, errOut, err := cliStdin(t, person, codes[0]+"\n", "deploy-approval", "approve", id, "--comment", "ship it")
	if err != nil || !strings.Contains(out, "Approved deploy approval #"+id) || !strings.Contains(errOut, "second factor") {
		t.Fatalf("approve: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	waitExit(t, job)
	if job.err != nil || !strings.Contains(job.stderr.String(), "approved; deploy until") {
		t.Fatalf("the waiting job: %v\n%s", job.err, job.stderr.String())
	}

	// 2. Rejected while CI waits: the job exits non-zero with one clear line.
	job = start(t, "ci-job-2", ci, "deploy-approval", "request", "--rack", "default", "--app", "myapp", "--commit", sha,
		"--wait", "--timeout", "2m")
	id2 := waitRequested(t, job)
	if out, errOut, err := cliStdin(t, person, codes[1]+"\n", "deploy-approval", "reject", id2, "--comment", "not today"); err != nil ||
		!strings.Contains(out, "Rejected") {
		t.Fatalf("reject: %v\n%s\n%s", err, out, errOut)
	}
	waitExit(t, job)
	if job.err == nil || !strings.Contains(job.stderr.String(), "rejected by e2e-admin@example.com: not today") {
		t.Fatalf("the waiting job after a rejection: %v\n%s", job.err, job.stderr.String())
	}

	// 3. list and show.
	out = mustCLI(t, person, "deploy-approval", "list")
	if !strings.Contains(out, id+"  ") || !strings.Contains(out, "approved") || !strings.Contains(out, "rejected") {
		t.Fatalf("list:\n%s", out)
	}
	out = mustCLI(t, person, "deploy-approval", "show", id)
	for _, want := range []string{"default/myapp", sha, "main", "fix the thing", "token github-actions of ci-owner@example.com",
		"approved by   e2e-admin@example.com", "ship it", base + "/approvals/" + id} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out, _, err := cli(t, ci, "deploy-approval", "list", "--status", "pending"); err != nil || strings.Contains(out, "default/myapp") {
		t.Fatalf("the CI token's pending list: %v\n%s", err, out)
	}
}
