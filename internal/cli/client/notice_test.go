package client

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// lockedBuffer is a stderr the relay's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The gateway's notice (why env is missing) reaches the person on stderr,
// once however many calls carry it, and never on stdout, where convox's
// own output goes; a notice cannot drive the terminal.
func TestRelayPrintsGatewayNoticeOnce(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rack/apps/myapp/releases/R1":
			w.Header().Set(apitypes.HeaderNotice, "env is hidden from your role (viewer) on rack dev: reading env needs env:read")
		case "/rack/hostile":
			w.Header().Set(apitypes.HeaderNotice, "bad\u202enews")
		}
		io.WriteString(w, `{"id":"R1"}`)
	}))
	defer gw.Close()
	u, _ := url.Parse(gw.URL)
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	e := &cmdutil.Env{Stdout: &stdout, Stderr: stderr, Getenv: func(string) string { return "" }}
	local, stop, err := startMFAProxy(u, newPrompter(e))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, p := range []string{"/rack/apps/myapp/releases/R1", "/rack/apps/myapp/releases/R1", "/rack/apps", "/rack/hostile"} {
		resp, err := http.Get(local + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != `{"id":"R1"}` {
			t.Fatalf("%s: body %q changed by the relay", p, body)
		}
	}
	want := "rack-gateway: note: env is hidden from your role (viewer) on rack dev: reading env needs env:read\n" +
		`rack-gateway: note: bad\u202enews` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if stdout.Len() != 0 || strings.Contains(stdout.String(), "note") {
		t.Errorf("stdout %q", stdout.String())
	}
}
