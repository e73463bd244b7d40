package simrack

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Request is one entry of the rack's request log: what reached the rack and
// how it was answered.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	// Websocket reports an upgrade request (a request carrying
	// `Upgrade: websocket`).
	Websocket bool
	// Actor is the value of Convox-Actor, else X-Convox-Actor ("" if none).
	Actor string
	// Authorized reports whether the request carried valid rack credentials
	// (rack password, or a valid JWT). It is computed for every request, also
	// for routes that never check credentials (404s, /check), and says nothing
	// about whether the credential's role allowed the operation.
	Authorized bool
	// Role is the role the credentials grant ("r", "rw", "rwa"), "" when
	// they are invalid.
	Role string
	// Header is a copy of the request headers.
	Header http.Header
	// Status is the status code written (101 for successful upgrades, 0 while
	// a plain request has not answered yet).
	Status int
	// BodyBytes counts the bytes of request body the rack read.
	BodyBytes int64
}

// requestLog is the ordered, concurrency-safe log behind Rack.Requests.
type requestLog struct {
	mu      sync.Mutex
	entries []*logEntry
	max     int // keep about the newest max entries; 0 keeps all
}

// logEntry is a live log record; handlers update status and body size while
// the request is in flight, so those fields are atomics.
type logEntry struct {
	req       Request // immutable after start, except the atomics below
	status    atomic.Int64
	bodyBytes atomic.Int64
}

func (l *requestLog) start(r *http.Request, authorized bool, role string) *logEntry {
	actor := r.Header.Get("Convox-Actor")
	if actor == "" {
		actor = r.Header.Get("X-Convox-Actor")
	}
	e := &logEntry{req: Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Websocket:  isUpgrade(r),
		Actor:      actor,
		Authorized: authorized,
		Role:       role,
		Header:     r.Header.Clone(),
	}}
	l.mu.Lock()
	if l.max > 0 && len(l.entries) >= 2*l.max { // drop the oldest half: amortized O(1)
		n := copy(l.entries, l.entries[len(l.entries)-l.max:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
	}
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	return e
}

func (l *requestLog) snapshot() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, len(l.entries))
	for i, e := range l.entries {
		out[i] = e.req
		out[i].Header = e.req.Header.Clone()
		out[i].Status = int(e.status.Load())
		out[i].BodyBytes = e.bodyBytes.Load()
	}
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// countingBody counts request body bytes into the log entry as they are read,
// so streamed uploads are accounted for without buffering them.
type countingBody struct {
	io.ReadCloser
	entry *logEntry
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.entry.bodyBytes.Add(int64(n))
	return n, err
}

// recorder captures the status code for the request log. It keeps the
// Flusher and Hijacker capabilities of the underlying writer because
// streaming downloads flush and websocket upgrades hijack.
type recorder struct {
	http.ResponseWriter
	entry       *logEntry
	wroteHeader bool
}

func (w *recorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.entry.status.Store(int64(code))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
