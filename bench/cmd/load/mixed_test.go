package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The ack log holds exactly the 2xx mutating calls with the server's
// request id; refused calls and GETs are not acknowledged, and a 2xx
// without a request id is counted apart, never logged.
func TestMixedLoadAcks(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch {
		case r.Method == "GET":
			w.Header().Set("X-Request-Id", fmt.Sprint("get-", i))
		case r.URL.Path == "/rack/apps/myapp/releases" && i%3 == 0:
			http.Error(w, "refused", http.StatusServiceUnavailable)
			return
		case r.URL.Path == "/rack/apps/myapp/objects/tmp/k" && i%5 == 0:
			// 2xx without a request id
		default:
			w.Header().Set("X-Request-Id", fmt.Sprint("req-", i))
		}
		fmt.Fprint(w, "{}")
	}))
	defer srv.Close()
	var acks bytes.Buffer
	m := &mixedLoad{base: srv.URL + "/rack", auth: "Basic x", getConc: 2, postConc: 2, dur: 300 * time.Millisecond,
		build: "B1", object: []byte("obj"), ackLog: &acks}
	sum := m.run()
	lines := strings.Split(strings.TrimSpace(acks.String()), "\n")
	if int64(len(lines)) != m.acked.Load() || m.acked.Load() == 0 {
		t.Fatalf("%d ack lines, %d counted\n%s", len(lines), m.acked.Load(), sum)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "POST" || !strings.HasPrefix(f[2], "req-") {
			t.Fatalf("ack line %q", l)
		}
	}
	if m.fails["release: status 503"] == 0 || m.missingID.Load() == 0 || m.okGets.Load() == 0 {
		t.Fatalf("refusals %d, 2xx without id %d, GETs %d\n%s", m.fails["release: status 503"], m.missingID.Load(), m.okGets.Load(), sum)
	}
	if !strings.Contains(sum, "failed client requests: ") || !strings.Contains(sum, "release: status 503") {
		t.Fatalf("summary does not give the failures:\n%s", sum)
	}
}

// A dead server's refusals are failures of their kind, not acknowledgements.
func TestMixedLoadDeadServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var acks bytes.Buffer
	m := &mixedLoad{base: url, auth: "Basic x", getConc: 1, postConc: 1, dur: 100 * time.Millisecond,
		build: "B1", object: []byte("o"), ackLog: &acks}
	sum := m.run()
	if acks.Len() != 0 || m.acked.Load() != 0 || m.fails["get: connection refused"] == 0 {
		t.Fatalf("acks %q, fails %v\n%s", acks.String(), m.fails, sum)
	}
}
