package cli

import (
	"bufio"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The audit verbs against a real dev data directory: the dev gateway writes
// a chain and (on Ctrl-C) a final signed checkpoint to its anchor
// directory; then verify, export, verify the export, tamper with it, and
// check an env value.
func TestAuditVerbsOnDevData(t *testing.T) {
	data := t.TempDir()
	cancel, done, tokens, addr := startDev(t, data)
	do := func(method, path, token string, form url.Values) int {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.SetBasicAuth("convox", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		do("GET", "/rack/apps", tokens["viewer"], nil)
	}
	do("GET", "/rack/apps/myapp/environment", tokens["viewer"], nil) // denied, audited
	// A path that would forge a line of audit tail and drive the terminal:
	// refused (control characters), recorded exactly, printed escaped.
	do("GET", "/rack/apps/x%0aseq%20999%202026-01-01T00:00:00Z%20allow%20AppDelete%1b%5b2J", tokens["viewer"], nil)
	if s := do("POST", "/rack/apps/myapp/releases", tokens["admin"], url.Values{"env": {"API_TOKEN=hunter2\nMODE=blue"}}); s != 200 {
		t.Fatalf("release create: %d", s)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop")
	}
	keys, _ := filepath.Glob(filepath.Join(data, "anchors", "checkpoints", "*.json"))
	if len(keys) == 0 {
		t.Fatal("no anchor written at shutdown")
	}

	code, out, errs := run(t, nil, "audit", "verify", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "OK: ") || !strings.Contains(out, "NOT WORM") {
		t.Fatalf("verify live: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, nil, "audit", "tail", "--data", data, "-n", "100")
	if code != 0 || !strings.Contains(out, `/apps/x\nseq 999 2026-01-01T00:00:00Z allow AppDelete\x1b[2J`) {
		t.Fatalf("audit tail does not show the hostile path escaped:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "seq 999") || strings.ContainsRune(line, 0x1b) {
			t.Fatalf("audit tail printed a forged line or an escape sequence: %q", line)
		}
		if line != "" && !strings.HasPrefix(line, "seq ") {
			t.Fatalf("audit tail line without its chain sequence number: %q", line)
		}
	}
	exp := filepath.Join(data, "export.jsonl")
	if code, _, errs := run(t, nil, "audit", "export", "--data", data, "-o", exp); code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	if code, out, errs := run(t, nil, "audit", "verify", "--data", data, exp); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify export: %d %q %q", code, out, errs)
	}
	b, _ := os.ReadFile(exp)
	if strings.Contains(string(b), "hunter2") {
		t.Fatal("a secret value is in the export")
	}
	// Tamper: change the actor on the third event line.
	lines := strings.Split(string(b), "\n")
	tampered := filepath.Join(data, "tampered.jsonl")
	third := 0
	for i, n := 0, 0; i < len(lines) && third == 0; i++ {
		if strings.HasPrefix(lines[i], `{"type":"event"`) {
			if n++; n == 3 {
				third = i
			}
		}
	}
	lines[third] = strings.Replace(lines[third], `"actor":"`, `"actor":"forged-`, 1)
	if err := os.WriteFile(tampered, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, nil, "audit", "verify", "--data", data, tampered)
	if code != 1 || !strings.HasPrefix(out, "FAIL: seq 3: modified") {
		t.Fatalf("tampered export: %d %q", code, out)
	}
	// Truncated export (the tail dropped, checkpoint lines kept).
	var kept []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	n := 0
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, `"type":"event"`) {
			n++
			if n > 4 {
				continue
			}
		}
		kept = append(kept, l)
	}
	if err := os.WriteFile(tampered, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = run(t, nil, "audit", "verify", "--data", data, tampered); code != 1 || !strings.Contains(out, "truncated") {
		t.Fatalf("truncated export: %d %q", code, out)
	}

	if code, out, _ := run(t, nil, "audit", "pubkey", "--data", data); code != 0 || !strings.Contains(out, "BEGIN PUBLIC KEY") {
		t.Fatalf("pubkey: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "audit", "check-value", "--data", data, "API_TOKEN", "hunter2"); code != 0 || !strings.Contains(out, "admin@example.com set API_TOKEN to this value") {
		t.Fatalf("check-value right: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "audit", "check-value", "--data", data, "API_TOKEN", "hunter3"); code != 1 || !strings.Contains(out, "no audited change") {
		t.Fatalf("check-value wrong: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "audit", "export", "--data", data, "--format", "csv"); code != 0 || !strings.HasPrefix(out, "seq,time,rack,actor") {
		t.Fatalf("csv: %d %q", code, out[:min(len(out), 200)])
	}

	// Prune behind the anchored checkpoint; the rest still verifies.
	seq := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(keys[0]), "0000"), ".json")
	seq = strings.TrimLeft(seq, "0")
	if code, out, errs := run(t, nil, "audit", "prune", "--data", data, "--through", "999999"); code != 1 {
		t.Fatalf("prune behind a missing checkpoint: %d %q %q", code, out, errs)
	}
	if code, out, errs := run(t, nil, "audit", "prune", "--data", data, "--through", seq); code != 0 || !strings.Contains(out, "pruned") {
		t.Fatalf("prune --through %s: %d %q %q", seq, code, out, errs)
	}
	if code, out, errs := run(t, nil, "audit", "verify", "--data", data); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify after prune: %d %q %q", code, out, errs)
	}
}
