package notify

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// recorder is an audit log that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []*chain.Event
}

func (r *recorder) Record(ev *chain.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) all() []*chain.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*chain.Event(nil), r.events...)
}

// details returns the decoded details of every recorded attempt.
func (r *recorder) details(t *testing.T) []attemptDetails {
	t.Helper()
	var out []attemptDetails
	for _, ev := range r.all() {
		if ev.Action != ActionDeliver {
			t.Fatalf("recorded action %q", ev.Action)
		}
		var d attemptDetails
		if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
			t.Fatalf("details %q: %v", ev.Details, err)
		}
		out = append(out, d)
	}
	return out
}

// reasons returns the recorded attempts' reasons.
func (r *recorder) reasons() []string {
	var out []string
	for _, ev := range r.all() {
		out = append(out, ev.Reason)
	}
	return out
}

// syncBuffer is a log destination safe for concurrent writes.
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

// env is a worker's world: a store on a fake clock, an audit log and a
// log, with a publisher and worker over cfg.
type env struct {
	clk  *clock.Fake
	st   store.Store
	rec  *recorder
	logs *syncBuffer
	pub  *Publisher
	w    *Worker
}

// newEnv opens a fresh SQLite store and builds a publisher and a worker
// (jitter off) for cfg.
func newEnv(t *testing.T, cfg config.Notify) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"), store.WithClock(clk))
	e := &env{clk: clk, st: storetest.Migrated(t, st, err), rec: &recorder{}, logs: &syncBuffer{}}
	e.w = e.worker(t, cfg, "w1")
	e.pub = NewPublisher(cfg, e.st, PublisherOptions{Clock: clk, Wake: e.w.Wake})
	return e
}

// worker builds a worker named id on e's store (jitter off).
func (e *env) worker(t *testing.T, cfg config.Notify, id string) *Worker {
	t.Helper()
	w, err := NewWorker(cfg, WorkerOptions{Jobs: e.st, Recorder: e.rec, Clock: e.clk, ID: id,
		Log:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Jitter: func(d time.Duration) time.Duration { return d }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runOnce runs the worker once and checks how many jobs it handled.
func (e *env) runOnce(t *testing.T, want int) {
	t.Helper()
	n, err := e.w.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if n != want {
		t.Fatalf("RunOnce handled %d jobs, want %d", n, want)
	}
}

// job returns the only job.
func (e *env) job(t *testing.T) store.Job {
	t.Helper()
	jobs, err := e.st.ListJobs(t.Context(), store.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	return jobs[0]
}

// notifyConfig is a configuration of channels with defaults filled in.
func notifyConfig(channels ...config.NotifyChannel) config.Notify {
	cfg := config.Notify{Channels: channels}
	cfg.SetDefaults()
	return cfg
}

// hostile is text an attacker may put in a commit message or a name.
const hostile = `<script>alert("x")</script> <!channel> <https://evil.example|click> & "quotes" 'single'`

// sampleEvent is an approval request with a hostile commit message.
func sampleEvent() Event {
	return Event{Kind: ApprovalRequested, Title: "Deploy of web on production needs approval",
		Facts: []Fact{{"Rack", "production"}, {"App", "web"}, {"Commit", "0123456789ab"},
			{"Message", "fix: the thing\n" + hostile}, {"Requested by", "token ci of ci@example.com"}},
		Link: "https://gateway.example.com/approvals/7", Rack: "production", App: "web", Actor: "token ci of ci@example.com"}
}

// receiver is an HTTP endpoint answering with the statuses queued (then
// 200), keeping the requests it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []receivedRequest
}

type receivedRequest struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedRequest{req.Header.Clone(), buf.Bytes()})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "42")
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedRequest(nil), r.got...)
}

// mustNotContain fails t if any of texts holds any of secrets.
func mustNotContain(t *testing.T, what string, texts []string, secrets ...string) {
	t.Helper()
	for _, s := range texts {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				t.Errorf("%s holds the secret %q: %s", what, sec, s)
			}
		}
	}
}

// auditTexts is everything the audit log was given, as text.
func (r *recorder) texts() []string {
	var out []string
	for _, ev := range r.all() {
		b, _ := json.Marshal(ev)
		out = append(out, string(b))
	}
	return out
}
