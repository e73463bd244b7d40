package siem

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// attempt is one POST the test server saw.
type attempt struct {
	at      time.Time
	header  http.Header
	records []Record
	status  int
}

// recvServer is a webhook receiver: on loopback (newRecv), or in memory
// (newMemRecv), where the sink's POSTs call the handler directly through
// its transport. respond decides each attempt's status (n counts attempts
// from 1) and may set response headers.
//
// The in-memory receiver lets a test run in a testing/synctest bubble: no
// network, so every goroutine of the sink blocks only on channels and
// timers, time is fake (backoffs, Retry-After and flush intervals pass at
// once, exactly), and synctest.Wait says when the sink has done all it will
// do without time passing. Tests that are about real connections (TLS,
// refused connections) use newRecv.
type recvServer struct {
	*httptest.Server                   // nil in memory
	URL              string            // what to configure as the webhook URL
	transport        http.RoundTripper // in memory: to set as the sink's transport
	mu               sync.Mutex
	attempts         []attempt
	respond          func(n int, w http.ResponseWriter) int
}

// handlerTransport serves requests with a handler, in the caller's
// goroutine.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// newMemRecv returns an in-memory receiver (see recvServer). Its URL is
// https:// on a host that does not resolve: only its transport reaches it.
func newMemRecv(t *testing.T, respond func(n int, w http.ResponseWriter) int) *recvServer {
	t.Helper()
	rs := &recvServer{respond: respond, URL: "https://siem.invalid/ingest"}
	rs.transport = handlerTransport{rs.handler(t)}
	return rs
}

func newRecv(t *testing.T, tlsServer bool, respond func(n int, w http.ResponseWriter) int) *recvServer {
	t.Helper()
	rs := &recvServer{respond: respond}
	if tlsServer {
		rs.Server = httptest.NewTLSServer(rs.handler(t))
	} else {
		rs.Server = httptest.NewServer(rs.handler(t))
	}
	rs.URL = rs.Server.URL
	t.Cleanup(rs.Close)
	return rs
}

func (rs *recvServer) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var recs []Record
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("bad NDJSON line %q: %v", sc.Text(), err)
			}
			recs = append(recs, rec)
		}
		if len(body) > 0 && body[len(body)-1] != '\n' {
			t.Errorf("body not newline-terminated")
		}
		rs.mu.Lock()
		n := len(rs.attempts) + 1
		rs.mu.Unlock()
		status := http.StatusOK
		if rs.respond != nil {
			status = rs.respond(n, w)
		}
		rs.mu.Lock()
		rs.attempts = append(rs.attempts, attempt{at: time.Now(), header: r.Header.Clone(), records: recs, status: status})
		rs.mu.Unlock()
		w.WriteHeader(status)
	})
}

// delivered returns the seqs of records in 2xx-answered attempts, in order.
func (rs *recvServer) delivered() []int64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []int64
	for _, a := range rs.attempts {
		if a.status/100 == 2 {
			for _, r := range a.records {
				out = append(out, r.Seq)
			}
		}
	}
	return out
}

func (rs *recvServer) snapshot() []attempt {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.attempts)
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// startWebhook builds a Webhook with fast backoff, posting to rs (in
// memory if rs is, or to cfg.URL if rs is nil), and starts it; it is closed
// at cleanup.
func startWebhook(t *testing.T, rs *recvServer, cfg WebhookConfig, logger *slog.Logger) *Webhook {
	t.Helper()
	w, err := newWebhook(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	w.backoffBase = time.Millisecond
	w.backoffCap = 10 * time.Millisecond
	if rs != nil && rs.transport != nil {
		w.client.Transport = rs.transport
	}
	w.run()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

func closeNow(t *testing.T, w *Webhook) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestWebhookBatchBySize(t *testing.T) {
	synctest.Test(t, testWebhookBatchBySize)
}

func testWebhookBatchBySize(t *testing.T) {
	rs := newMemRecv(t, nil)
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 10, FlushInterval: time.Hour}, nil)
	w.Send(events(1, 25))
	synctest.Wait() // the sink is idle: it sent all it sends without a timer
	if got := rs.delivered(); len(got) != 20 {
		t.Fatalf("%d events sent at once, want the two full batches (20)", len(got))
	}
	// The partial batch waits for the interval: not sent even a moment
	// before it ends (and every goroutine of the sink is blocked, so none
	// is about to send it).
	time.Sleep(time.Hour - time.Nanosecond)
	synctest.Wait()
	if got := rs.delivered(); len(got) != 20 {
		t.Fatalf("partial batch sent before interval/close: %d events", len(got))
	}
	if s := w.Stats(); s.Lag != 5 || s.Sent != 20 {
		t.Fatalf("stats %+v", s)
	}
	closeNow(t, w)
	if got := rs.delivered(); !slices.Equal(got, seqRange(1, 25)) {
		t.Fatalf("delivered %v", got)
	}
	for i, a := range rs.snapshot() {
		if want := []int{10, 10, 5}[i]; len(a.records) != want {
			t.Fatalf("batch %d has %d events, want %d", i, len(a.records), want)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("Content-Type %q", ct)
		}
		first, last := a.records[0].Seq, a.records[len(a.records)-1].Seq
		if a.header.Get(HeaderFirstSeq) != strconv.FormatInt(first, 10) || a.header.Get(HeaderLastSeq) != strconv.FormatInt(last, 10) {
			t.Fatalf("seq headers %q %q for %d..%d", a.header.Get(HeaderFirstSeq), a.header.Get(HeaderLastSeq), first, last)
		}
		if a.header.Get(HeaderDroppedBeforeSeq) != "" {
			t.Fatalf("unexpected drop header")
		}
	}
}

func TestWebhookBatchByInterval(t *testing.T) {
	synctest.Test(t, testWebhookBatchByInterval)
}

func testWebhookBatchByInterval(t *testing.T) {
	rs := newMemRecv(t, nil)
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 500, FlushInterval: 30 * time.Millisecond}, nil)
	w.Send(events(1, 3))
	synctest.Wait()
	if n := len(rs.delivered()); n != 0 {
		t.Fatalf("%d events sent before the interval", n)
	}
	time.Sleep(30 * time.Millisecond)
	synctest.Wait()
	if n := len(rs.delivered()); n != 3 {
		t.Fatalf("interval flush: %d events sent, want 3", n)
	}
	w.Send(events(4, 2))
	time.Sleep(30 * time.Millisecond)
	synctest.Wait()
	if n := len(rs.delivered()); n != 5 {
		t.Fatalf("second interval flush: %d events sent, want 5", n)
	}
	if got := rs.delivered(); !slices.Equal(got, seqRange(1, 5)) {
		t.Fatalf("delivered %v", got)
	}
	if n := len(rs.snapshot()); n != 2 {
		t.Fatalf("%d POSTs, want 2", n)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // per attempt; then 200
	}{
		{"500 twice", []int{500, 500}},
		{"502 503 504", []int{502, 503, 504}},
		{"429 without Retry-After", []int{429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rs := newMemRecv(t, func(n int, _ http.ResponseWriter) int {
					if n <= len(tt.statuses) {
						return tt.statuses[n-1]
					}
					return 200
				})
				w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 4, FlushInterval: time.Hour}, nil)
				w.Send(events(1, 10))
				closeNow(t, w)
				if got := rs.delivered(); !slices.Equal(got, seqRange(1, 10)) {
					t.Fatalf("delivered %v, want 1..10 exactly once", got)
				}
				s := w.Stats()
				if s.Retries != int64(len(tt.statuses)) || s.Sent != 10 || s.Dropped != 0 || s.Lag != 0 {
					t.Fatalf("stats %+v", s)
				}
				if !strings.Contains(s.LastError, "HTTP "+strconv.Itoa(tt.statuses[len(tt.statuses)-1])) {
					t.Fatalf("LastError %q", s.LastError)
				}
			})
		})
	}
}

// Retry-After is obeyed; in the bubble the second attempt comes exactly 1s
// (fake) after the first, where it used to take a real second.
func TestWebhookRetryAfter(t *testing.T) {
	synctest.Test(t, testWebhookRetryAfter)
}

func testWebhookRetryAfter(t *testing.T) {
	rs := newMemRecv(t, func(n int, w http.ResponseWriter) int {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return 200
	})
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 2, FlushInterval: time.Hour}, nil)
	w.Send(events(1, 4))
	closeNow(t, w)
	at := rs.snapshot()
	if len(at) != 3 {
		t.Fatalf("%d attempts, want 3", len(at))
	}
	if gap := at[1].at.Sub(at[0].at); gap < 950*time.Millisecond || gap != time.Second {
		t.Fatalf("retried after %s, Retry-After was 1s (backoff would be ~1ms)", gap)
	}
	if got := rs.delivered(); !slices.Equal(got, seqRange(1, 4)) {
		t.Fatalf("delivered %v", got)
	}
	if s := w.Stats(); s.Retries != 1 {
		t.Fatalf("retries %d", s.Retries)
	}
}

func TestWebhookRejectedBatchDropped(t *testing.T) {
	synctest.Test(t, testWebhookRejectedBatchDropped)
}

func testWebhookRejectedBatchDropped(t *testing.T) {
	var logBuf syncBuffer
	rs := newMemRecv(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			return http.StatusBadRequest
		}
		return 200
	})
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 5, FlushInterval: time.Hour},
		slog.New(slog.NewTextHandler(&logBuf, nil)))
	w.Send(events(1, 12))
	closeNow(t, w)
	if got := rs.delivered(); !slices.Equal(got, seqRange(6, 12)) {
		t.Fatalf("delivered %v, want 6..12", got)
	}
	s := w.Stats()
	if s.Dropped != 5 || s.Rejected != 5 || s.Sent != 7 || s.Retries != 0 || s.LastError != "HTTP 400" {
		t.Fatalf("stats %+v", s)
	}
	at := rs.snapshot()
	if h := at[1].header; h.Get(HeaderDroppedBeforeSeq) != "6" || h.Get(HeaderDroppedCount) != "5" {
		t.Fatalf("next batch drop headers %q %q", h.Get(HeaderDroppedBeforeSeq), h.Get(HeaderDroppedCount))
	}
	if r := at[1].records[0]; r.DroppedBeforeSeq != 6 || r.DroppedCount != 5 {
		t.Fatalf("first record drop fields %+v", r)
	}
	if r := at[1].records[1]; r.DroppedBeforeSeq != 0 || r.DroppedCount != 0 {
		t.Fatalf("second record carries drop fields")
	}
	if h := at[2].header; h.Get(HeaderDroppedBeforeSeq) != "" {
		t.Fatalf("drop report repeated")
	}
	if !strings.Contains(logBuf.String(), "status=400") {
		t.Fatalf("rejection not logged: %s", logBuf.String())
	}
}

func TestWebhookQueueOverflow(t *testing.T) {
	synctest.Test(t, testWebhookQueueOverflow)
}

func testWebhookQueueOverflow(t *testing.T) {
	release := make(chan struct{})
	rs := newMemRecv(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			<-release
		}
		return 200
	})
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 10, MaxQueue: 20, FlushInterval: time.Hour}, nil)
	// Released by the test, or before the sink is closed if the test fails
	// first (the handler does not watch the request's context).
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	w.Send(events(1, 10)) // first batch, held by the server
	synctest.Wait()
	if lag, q := w.Stats().Lag, w.queueSnapshot(); lag != 10 || len(q) != 0 {
		t.Fatalf("first batch not in flight: lag %d, queued %v", lag, q)
	}
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for s := int64(11); s <= 60; s += 5 {
			w.Send(events(s, 5))
		}
	}()
	synctest.Wait() // the sender has returned, or is blocked for good
	select {
	case <-sendDone:
	default:
		t.Fatal("Send blocked while the receiver was stalled")
	}
	if s := w.Stats(); s.Dropped != 30 || s.Lag != 30 {
		t.Fatalf("stats while stalled %+v", s)
	}
	releaseOnce()
	closeNow(t, w)
	want := append(seqRange(1, 10), seqRange(41, 60)...)
	if got := rs.delivered(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	at := rs.snapshot()
	if h := at[1].header; h.Get(HeaderDroppedBeforeSeq) != "41" || h.Get(HeaderDroppedCount) != "30" {
		t.Fatalf("drop headers %q %q", h.Get(HeaderDroppedBeforeSeq), h.Get(HeaderDroppedCount))
	}
	if r := at[1].records[0]; r.Seq != 41 || r.DroppedBeforeSeq != 41 || r.DroppedCount != 30 {
		t.Fatalf("first record after gap %+v", r)
	}
	if s := w.Stats(); s.Dropped != 30 || s.Sent != 30 || s.Rejected != 0 || s.Lag != 0 {
		t.Fatalf("final stats %+v", s)
	}
}

// queueSnapshot is a test helper.
func (w *Webhook) queueSnapshot() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int64
	for _, e := range w.queue {
		out = append(out, e.Seq)
	}
	return out
}

func TestWebhookCloseFlushes(t *testing.T) {
	synctest.Test(t, testWebhookCloseFlushes)
}

func testWebhookCloseFlushes(t *testing.T) {
	rs := newMemRecv(t, nil)
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 1000, FlushInterval: time.Hour}, nil)
	w.Send(events(1, 7))
	w.Send(events(8, 3))
	closeNow(t, w)
	if got := rs.delivered(); !slices.Equal(got, seqRange(1, 10)) {
		t.Fatalf("delivered %v", got)
	}
	w.Send(events(11, 2)) // after Close
	if s := w.Stats(); s.Dropped != 2 || s.Sent != 10 {
		t.Fatalf("stats %+v", s)
	}
	if err := w.Close(t.Context()); err != nil { // idempotent
		t.Fatal(err)
	}
}

// Close gives up at its deadline. In the bubble the deadline is exactly
// 200ms of fake time, in which the sink retries many times; on a real
// clock a loaded machine could let the deadline pass before the first
// attempt.
func TestWebhookCloseDeadline(t *testing.T) {
	synctest.Test(t, testWebhookCloseDeadline)
}

func testWebhookCloseDeadline(t *testing.T) {
	rs := newMemRecv(t, func(int, http.ResponseWriter) int { return 503 })
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 5, FlushInterval: time.Hour}, nil)
	w.Send(events(1, 12))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	if s := w.Stats(); s.Dropped != 12 || s.Sent != 0 || s.Lag != 0 || s.Retries == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWebhookHeadersNotLogged(t *testing.T) {
	const secret = "s3cr3t-bearer-value"
	const urlSecret = "url-token-value"
	var logBuf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rs := newRecv(t, false, func(n int, _ http.ResponseWriter) int {
		switch n {
		case 1:
			return http.StatusInternalServerError // retried
		case 2:
			return http.StatusUnauthorized // dropped
		}
		return http.StatusOK
	})
	w := startWebhook(t, rs, WebhookConfig{
		URL:       rs.URL + "/ingest?token=" + urlSecret,
		Headers:   map[string]string{"Authorization": "Bearer " + secret, "X-Tenant": "t1"},
		BatchSize: 3, FlushInterval: time.Hour,
	}, logger)
	w.Send(events(1, 9))
	closeNow(t, w)
	for i, a := range rs.snapshot() {
		if a.header.Get("Authorization") != "Bearer "+secret || a.header.Get("X-Tenant") != "t1" {
			t.Fatalf("attempt %d missing configured headers", i)
		}
	}

	// A network error: nothing listens on the port any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	w2 := startWebhook(t, nil, WebhookConfig{
		URL:       "http://" + addr + "/x?token=" + urlSecret,
		Headers:   map[string]string{"Authorization": "Bearer " + secret},
		BatchSize: 2, // a full batch: sent at once, not at the interval
	}, logger)
	w2.Send(events(1, 2))
	testutil.Eventually(t, "a refused attempt", func() bool { return w2.Stats().Retries > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = w2.Close(ctx)
	if s := w2.Stats(); s.Retries == 0 || !strings.Contains(s.LastError, "refused") || strings.Contains(s.LastError, urlSecret) {
		t.Fatalf("network error stats %+v", s)
	}

	logs := logBuf.String()
	for _, bad := range []string{secret, urlSecret, "alice@example.com", "Bearer"} {
		if strings.Contains(logs, bad) {
			t.Fatalf("log output contains %q:\n%s", bad, logs)
		}
	}
	for _, want := range []string{"HTTP 500", `"status":401`, "refused"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log output lacks %q:\n%s", want, logs)
		}
	}
}

func TestWebhookTLSWithCAFile(t *testing.T) {
	rs := newRecv(t, true, nil)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rs.Certificate().Raw})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, CAFile: caFile, BatchSize: 2, FlushInterval: time.Hour}, nil)
	w.Send(events(1, 3))
	closeNow(t, w)
	if got := rs.delivered(); !slices.Equal(got, seqRange(1, 3)) {
		t.Fatalf("delivered %v", got)
	}

	// Without the CA the server's certificate is not trusted.
	w2 := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 1}, nil)
	w2.Send(events(1, 1))
	testutil.Eventually(t, "TLS failure", func() bool { return w2.Stats().Retries > 0 })
	if s := w2.Stats(); !strings.Contains(s.LastError, "certificate") {
		t.Fatalf("LastError %q", s.LastError)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w2.Close(ctx); err == nil {
		t.Fatal("Close succeeded with undeliverable events")
	}

	// A CAFile without certificates is refused.
	empty := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(empty, []byte("nothing"), 0o600)
	if _, err := NewWebhook(WebhookConfig{URL: rs.URL, CAFile: empty}, nil); err == nil || !strings.Contains(err.Error(), "CAFile") {
		t.Fatalf("empty CAFile: %v", err)
	}
	if _, err := NewWebhook(WebhookConfig{URL: rs.URL, CAFile: filepath.Join(t.TempDir(), "missing.pem")}, nil); err == nil || !strings.Contains(err.Error(), "CAFile") {
		t.Fatalf("missing CAFile: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     WebhookConfig
		wantErr string // substring naming the field; "" for valid
	}{
		{"https", WebhookConfig{URL: "https://siem.example.com/ingest"}, ""},
		{"http loopback v4", WebhookConfig{URL: "http://127.0.0.1:8080/x"}, ""},
		{"http loopback 127/8", WebhookConfig{URL: "http://127.1.2.3/x"}, ""},
		{"http loopback v6", WebhookConfig{URL: "http://[::1]:9000/x"}, ""},
		{"http localhost", WebhookConfig{URL: "http://LocalHost:9000/x"}, ""},
		{"all fields", WebhookConfig{URL: "https://h", Headers: map[string]string{"Authorization": "Bearer x"},
			BatchSize: 10, FlushInterval: time.Second, MaxQueue: 10, Timeout: time.Second}, ""},
		{"empty URL", WebhookConfig{}, "URL"},
		{"http non-loopback", WebhookConfig{URL: "http://siem.example.com/x"}, "URL"},
		{"http private ip", WebhookConfig{URL: "http://10.0.0.1/x"}, "URL"},
		{"http localhost lookalike", WebhookConfig{URL: "http://localhost.evil.com/x"}, "URL"},
		{"ftp", WebhookConfig{URL: "ftp://h/x"}, "URL"},
		{"no host", WebhookConfig{URL: "https:///x"}, "URL"},
		{"relative", WebhookConfig{URL: "/ingest"}, "URL"},
		{"unparsable", WebhookConfig{URL: "https://h/%zz"}, "URL"},
		{"user info", WebhookConfig{URL: "https://u:p@h/x"}, "URL"},
		{"negative batch", WebhookConfig{URL: "https://h", BatchSize: -1}, "BatchSize"},
		{"negative queue", WebhookConfig{URL: "https://h", MaxQueue: -5}, "MaxQueue"},
		{"queue smaller than batch", WebhookConfig{URL: "https://h", BatchSize: 100, MaxQueue: 10}, "MaxQueue"},
		{"default batch exceeds queue", WebhookConfig{URL: "https://h", MaxQueue: 10}, "MaxQueue"},
		{"negative interval", WebhookConfig{URL: "https://h", FlushInterval: -time.Second}, "FlushInterval"},
		{"negative timeout", WebhookConfig{URL: "https://h", Timeout: -1}, "Timeout"},
		{"bad header name", WebhookConfig{URL: "https://h", Headers: map[string]string{"Bad Name": "v"}}, "Headers"},
		{"header injection", WebhookConfig{URL: "https://h", Headers: map[string]string{"X-A": "v\r\nX-B: w"}}, "Headers"},
		{"reserved header", WebhookConfig{URL: "https://h", Headers: map[string]string{"x-rgw-first-seq": "1"}}, "Headers"},
		{"content type", WebhookConfig{URL: "https://h", Headers: map[string]string{"Content-Type": "text/plain"}}, "Headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "v\r\n") || strings.Contains(err.Error(), "u:p") {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if _, err := NewWebhook(tt.cfg, nil); err == nil {
				t.Fatal("NewWebhook accepted an invalid config")
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"junk", 0},
		{"2", 2 * time.Second},
		{" 7 ", 7 * time.Second},
		{"999999999", time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	w := &Webhook{backoffBase: 100 * time.Millisecond, backoffCap: 30 * time.Second}
	for attempt := range 70 {
		want := min(100*time.Millisecond<<min(attempt, 20), 30*time.Second)
		for range 20 {
			d := w.backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestCollectors(t *testing.T) {
	synctest.Test(t, testCollectors)
}

func testCollectors(t *testing.T) {
	rs := newMemRecv(t, nil)
	w := startWebhook(t, rs, WebhookConfig{URL: rs.URL, BatchSize: 1}, nil)
	w.Send(events(1, 3))
	closeNow(t, w)
	reg := prometheus.NewRegistry()
	for _, c := range w.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			got[mf.GetName()] = m.GetCounter().GetValue()
		} else {
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	if got["rgw_siem_events_sent_total"] != 3 || got["rgw_siem_lag_events"] != 0 || len(got) != 5 {
		t.Fatalf("metrics %v", got)
	}
}
