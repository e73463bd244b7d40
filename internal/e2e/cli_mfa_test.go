package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// discard is an audit recorder for the test's own set-up writes.
type discard struct{}

func (discard) Record(*chain.Event)                            {}
func (discard) RecordSync(context.Context, *chain.Event) error { return nil }

// TestCLIStepUpWithTOTP: the built binary, running the convox stand-in
// through `rack-gateway convox`, hits the gateway's step-up answer, reads
// a TOTP code from its standard input, retries once with it and
// succeeds; a per-request action asks again; the stand-in run directly
// with RACK_URL gets one line naming the rack-gateway command to run.
func TestCLIStepUpWithTOTP(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "gw.db")
	s := newSetup(t, dsn)
	_, base := s.serve(t, "gateway")

	// A person with a TOTP app and a CLI session that signed in an hour
	// ago: no recent second factor.
	home := t.TempDir()
	cs := totpCLISession(t, dsn, base, home, "e2e-admin@example.com")
	ctx := context.Background()
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetSessionMFA(ctx, cs.sessionID, store.MFATOTP, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	convox := buildStandInConvox(t)
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"RACK_GATEWAY_CONVOX": convox, "RACK_GATEWAY_MFA_STDIN": "1"}

	// A call that needs a recent second factor: asked once, then allowed.
	code := nextCode(t, cs.secret, cs.first)
	out, errOut, err := cliStdin(t, env, code+"\n", "convox", "env", "set", "A=1")
	if err != nil || !strings.Contains(out, "OK") || !strings.Contains(errOut, "asks for a recent second factor") {
		t.Fatalf("env set with a code on stdin: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if strings.Contains(errOut, code) {
		t.Errorf("the code was echoed: %s", errOut)
	}
	// In the window now: no question.
	if out, errOut, err := cliStdin(t, env, "", "convox", "env", "set", "A=1"); err != nil || strings.Contains(errOut, "second factor") {
		t.Fatalf("env set in the window: %v\n%s\n%s", err, out, errOut)
	}
	// A per-request action asks every time; a wrong code is refused and
	// nothing is deleted.
	if _, errOut, err := cliStdin(t, env, "000000\n", "convox", "apps", "delete", "myapp"); err == nil || !strings.Contains(errOut, "not valid") {
		t.Fatalf("apps delete with a wrong code: %v\n%s", err, errOut)
	}
	// (A TOTP app gives one more code per 30 s; a backup code serves here.)
	if out, errOut, err := cliStdin(t, env, cs.codes[0]+"\n", "convox", "apps", "delete", "myapp"); err != nil || !strings.Contains(errOut, "for this very call") {
		t.Fatalf("apps delete with a backup code: %v\n%s\n%s", err, out, errOut)
	}

	// The convox CLI run directly: one line naming the command to run.
	direct := exec.Command(convox, "apps", "delete", "myapp")
	direct.Env = baseEnv(map[string]string{"RACK_URL": strings.Replace(base, "http://", "http://convox:"+cs.token+"@", 1) + "/rack"})
	var stderr bytes.Buffer
	direct.Stderr = &stderr
	if err := direct.Run(); err == nil || !strings.Contains(stderr.String(), "rack-gateway convox") || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Fatalf("convox run directly: %v\n%s", err, stderr.String())
	}
}

// nextCode is a TOTP code for a later time step than prev's (each step is
// usable once): the next 30-second step's, which the gateway accepts now
// within its ±1 step skew. No waiting.
func nextCode(t *testing.T, secret, prev string) string {
	t.Helper()
	code, err := totp.Code(secret, time.Now().Add(totp.Period*time.Second))
	if err != nil || code == prev {
		t.Fatalf("next code: %v (same as the last: %v)", err, code == prev)
	}
	return code
}

// cliStdin runs the binary with stdin.
func cliStdin(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = baseEnv(env)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// buildStandInConvox builds cxStandInConvox.
func buildStandInConvox(t *testing.T) string {
	t.Helper()
	tools := t.TempDir()
	convox, src := filepath.Join(tools, "convox"), filepath.Join(tools, "convox.go")
	if err := os.WriteFile(src, []byte(cxStandInConvox), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", convox, src).CombinedOutput(); err != nil {
		t.Fatalf("build the convox stand-in: %v\n%s", err, out)
	}
	return convox
}

// cliSession is a person's CLI session with a TOTP method, saved in a
// client configuration.
type cliSession struct {
	token, secret, first string // first: the code that confirmed the enrolment
	codes                []string
	sessionID            int64
}

// totpCLISession gives email a TOTP method and a CLI session, set up in the
// database directly as the console and `rack-gateway login` would have
// done, and saves the session as the current rack "e2e" under home.
func totpCLISession(t *testing.T, dsn, base, home, email string) cliSession {
	t.Helper()
	ctx := context.Background()
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	sess := &store.Session{UserID: u.ID, Kind: authn.KindCLI, Name: "e2e"}
	token, err := authn.New(st, 0, nil).StartSession(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeyring(e2eMFAKeys)
	if err != nil {
		t.Fatal(err)
	}
	svc := mfa.New(st, mfa.Config{Keys: keys}, discard{}, &authz.Policy{RequireMFA: true, StepUp: true, StepUpWindow: 10 * time.Minute}, nil, nil)
	actor := mfa.Actor{Principal: &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: u.Email, Role: u.Role,
		SessionID: sess.ID, Assurance: authz.Assurance{Credential: authz.CredentialCLISession}}}
	pend, err := svc.BeginTOTP(ctx, actor)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := totp.Code(pend.Secret, time.Now())
	en, err := svc.ConfirmTOTP(ctx, actor, pend.ID, first, "phone")
	if err != nil {
		t.Fatal(err)
	}
	cfgDir := filepath.Join(home, ".config", "rack-gateway")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"current": "e2e", "racks": map[string]any{"e2e": map[string]string{"url": base, "token": token}}})
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return cliSession{token: token, secret: pend.Secret, first: first, codes: en.BackupCodes, sessionID: sess.ID}
}
