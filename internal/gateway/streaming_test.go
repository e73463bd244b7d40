package gateway_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// TestLargeUploadStreams sends 64 MiB chunked and with a length through the
// gateway; the rack must receive every byte.
func TestLargeUploadStreams(t *testing.T) {
	e := newEnv(t)
	const size = 64 << 20
	for _, chunked := range []bool{false, true} {
		e.rack.ResetRequests()
		var body io.Reader = io.LimitReader(rand.Reader, size)
		if chunked {
			body = struct{ io.Reader }{body} // hides the length: Transfer-Encoding: chunked
		}
		req, _ := http.NewRequest("POST", e.srv.URL+"/rack/apps/myapp/objects/tmp/big.tgz", body)
		if !chunked {
			req.ContentLength = size
		}
		req.Header.Set("Authorization", basic(e.tokens[authz.RoleDeployer]))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		status, out := read(t, resp)
		if status != 200 || !strings.Contains(out, "object://myapp/tmp/big.tgz") {
			t.Fatalf("chunked=%v: %d %s", chunked, status, out)
		}
		var got int64 = -1
		for _, r := range e.rack.Requests() {
			if r.Method == "POST" && r.Path == "/apps/myapp/objects/tmp/big.tgz" {
				got = r.BodyBytes
			}
		}
		if got != size {
			t.Fatalf("chunked=%v: rack received %d bytes, want %d", chunked, got, size)
		}
	}
}

// TestGracefulShutdownDrains: on shutdown the gateway stops accepting, lets
// an in-flight websocket stream and a request finish, then exits.
func TestGracefulShutdownDrains(t *testing.T) {
	e := newEnv(t, func(c *configT) { c.ShutdownTimeout = 10e9 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	// An exec session that is still running when shutdown starts.
	e.srv.URL = base // dialWS uses srv.URL
	c, _, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", e.tokens[authz.RoleOps],
		map[string][]string{"Command": {"sh -c 'sleep 1; echo finished; exit 5'"}, "Tty": {"false"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.Eventually(t, "the exec to reach the rack", func() bool {
		return e.rackSaw("GET", "/apps/myapp/processes/"+testPID+"/exec")
	})
	cancel()
	out, code := readStream(t, c)
	if code != 5 || !strings.Contains(out, "finished") {
		t.Fatalf("stream cut by shutdown: code %d out %q", code, out)
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not finish")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}
