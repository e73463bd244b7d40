package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// mailpit is a real SMTP server for the tests (github.com/axllent/mailpit)
// on loopback, read back through its HTTP API. The binary is named by
// $RGW_MAILPIT, or found on PATH; without it the tests skip, or fail when
// RGW_REQUIRE_ALL=1 (as in CI, where .ci/run installs it).
type mailpit struct {
	SMTPAddr string // 127.0.0.1:PORT
	api      string // http://127.0.0.1:PORT/api/v1
	CAFile   string // the server certificate (self-signed), with TLS
}

// mailpitOptions choose how the server is started.
type mailpitOptions struct {
	tls bool // STARTTLS offered and required, with a self-signed certificate for 127.0.0.1
	// auth is "user:password" lines it accepts; empty with anyAuth
	// accepts any credentials (also in the clear), else none is needed.
	auth    string
	anyAuth bool
	// recipients is a regular expression of the recipients it takes
	// (others: 550); empty takes all.
	recipients string
}

func startMailpit(t *testing.T, o mailpitOptions) *mailpit {
	t.Helper()
	bin := os.Getenv("RGW_MAILPIT")
	if bin == "" {
		bin, _ = exec.LookPath("mailpit")
	}
	if bin == "" {
		if os.Getenv("RGW_REQUIRE_ALL") == "1" {
			t.Fatal("RGW_MAILPIT not set but RGW_REQUIRE_ALL=1; .ci/run installs mailpit")
		}
		t.Skip("RGW_MAILPIT not set (go install github.com/axllent/mailpit@v1.33.1); skipping the SMTP tests")
	}
	dir := t.TempDir()
	m := &mailpit{}
	args := []string{"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check", "--smtp-disable-rdns",
		"--quiet", "--tags-disable", "plus-addresses,x-tags"}
	if o.tls {
		m.CAFile = filepath.Join(dir, "cert.pem")
		key := filepath.Join(dir, "key.pem")
		writeCert(t, m.CAFile, key)
		args = append(args, "--smtp-tls-cert", m.CAFile, "--smtp-tls-key", key, "--smtp-require-starttls")
	}
	if o.auth != "" {
		f := filepath.Join(dir, "smtp-auth")
		if err := os.WriteFile(f, []byte(o.auth+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-auth-file", f)
	}
	if o.anyAuth {
		args = append(args, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	}
	if o.recipients != "" {
		args = append(args, "--smtp-allowed-recipients", o.recipients)
	}
	logPath := filepath.Join(dir, "mailpit.log")
	// A port found free can be taken before mailpit binds it: retry.
	var lastErr error
	for range 5 {
		smtpAddr, apiAddr := freeAddr(t), freeAddr(t)
		if err := m.start(t, bin, append(args, "--smtp", smtpAddr, "--listen", apiAddr), logPath); err != nil {
			lastErr = err
			continue
		}
		m.SMTPAddr, m.api = smtpAddr, "http://"+apiAddr+"/api/v1"
		return m
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("starting mailpit: %v\n%s", lastErr, log)
	return nil
}

// start runs mailpit and waits until its API answers, or it exits.
func (m *mailpit) start(t *testing.T, bin string, args []string, logPath string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	// Only what mailpit needs: no MP_* settings from the caller.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	api := "http://" + args[len(args)-1] + "/api/v1/messages"
	exited := false
	up := testutil.Poll(testutil.Patience, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
		}
		resp, err := http.Get(api)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if exited || !up {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("mailpit did not start (exited: %v)", exited)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// and its key.
func writeCert(t *testing.T, certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rgw test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// mailpitAddress is an address as mailpit's API shows it.
type mailpitAddress struct {
	Name    string
	Address string
}

// mailpitMessage is a message as mailpit's API shows it.
type mailpitMessage struct {
	ID        string
	MessageID string
	From      mailpitAddress
	To        []mailpitAddress
	Subject   string
	Date      time.Time
	Username  string // who authenticated (SMTP AUTH)
	Text      string
	HTML      string
}

// messages returns what arrived, newest first, each read in full.
func (m *mailpit) messages(t *testing.T) []mailpitMessage {
	t.Helper()
	var list struct {
		Messages []struct{ ID string }
	}
	m.get(t, "/messages", &list)
	var out []mailpitMessage
	for _, s := range list.Messages {
		var msg mailpitMessage
		m.get(t, "/message/"+s.ID, &msg)
		out = append(out, msg)
	}
	return out
}

// raw returns a message's source.
func (m *mailpit) raw(t *testing.T, id string) []byte {
	t.Helper()
	resp, err := http.Get(m.api + "/message/" + id + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("raw message: %d %v", resp.StatusCode, err)
	}
	return b
}

func (m *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit GET %s: %v", path, err)
	}
}
