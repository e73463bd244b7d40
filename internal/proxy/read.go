package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
)

// maxReadBody bounds a rack answer read by Read.
const maxReadBody = 8 << 20

// maxSocketRead bounds what Read keeps of a websocket stream (a build's
// logs); the rest is cut and the answer says so.
const maxSocketRead = 1 << 20

// RackRead is a read of rack data made inside the gateway on behalf of a
// signed-in person (the console's pages). It goes through the same
// pipeline as a call from the convox CLI: the credential is authenticated,
// the read authorized, its response filtered and the call audited.
type RackRead struct {
	Rack  string     // a configured rack's name
	Path  string     // a rack API path, e.g. "/apps/myapp/builds"
	Query url.Values // optional
	// Credential is the person's session (or API token), sent as a Bearer
	// token.
	Credential string
	// For is the request being served (a console page): the read takes its
	// peer address, forwarded-for chain and user agent, so the audit names
	// the same caller.
	For *http.Request
	// Quiet, if set, collects this read in place of its own audit event
	// when it was allowed and answered (the console then records one
	// event for the page view that names its reads). A refused read, or
	// one the rack failed, is always recorded as its own event.
	Quiet *ReadLog
	// Socket reads a websocket route that only sends (a build's logs):
	// the stream's data is read until the rack ends it, maxSocketRead, or
	// ctx is done, and returned as the body with status 101.
	Socket bool
}

// RackAnswer is what the rack (or the gateway, refusing) answered.
type RackAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	// Cut: a socket read stopped before the stream ended (its bound or
	// ctx); Body holds what was read.
	Cut bool
}

// ReadLog collects the allowed reads of one console page view (RackRead's
// Quiet). It is safe for concurrent reads.
type ReadLog struct {
	mu    sync.Mutex
	reads []ReadRecord
}

// ReadRecord is one collected read.
type ReadRecord struct {
	Path   string // the rack path, as audited
	Route  string // the route's name, e.g. "BuildList"
	Status int
}

// Reads returns the collected reads in the order they ended.
func (l *ReadLog) Reads() []ReadRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ReadRecord(nil), l.reads...)
}

func (l *ReadLog) note(ev *chain.Event) {
	l.mu.Lock()
	l.reads = append(l.reads, ReadRecord{Path: ev.Path, Route: ev.Route, Status: ev.Status})
	l.mu.Unlock()
}

type readLogKey struct{}

// recordOutcome audits a forwarded call's outcome: its own event, unless
// it is a quiet read (RackRead.Quiet, which only Read can set: it travels
// in the context of a request made inside the gateway) that was allowed,
// changes nothing and was answered; that is collected instead.
func (h *Handler) recordOutcome(c *call) {
	l, _ := c.r.Context().Value(readLogKey{}).(*ReadLog)
	if l != nil && c.ev.Decision == "allow" && !c.route.Mutating && c.r.Method == http.MethodGet &&
		c.ev.Status >= 100 && c.ev.Status < 400 && c.ev.Reason == string(authz.ReasonAllowed) {
		l.note(&c.ev)
		c.slot.Release()
		return
	}
	c.slot.Record(&c.ev)
}

// errReadTooLarge is returned when a rack answer exceeds its bound
// (maxReadBody for Read, maxActBody for Act).
var errReadTooLarge = errors.New("the rack's answer is too large to read")

// Read runs q through the pipeline and returns the answer. Only GETs are
// made; an error means the answer could not be read whole.
func (h *Handler) Read(ctx context.Context, q RackRead) (RackAnswer, error) {
	u := url.URL{Path: "/racks/" + q.Rack + q.Path, RawQuery: q.Query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return RackAnswer{}, err
	}
	rctx := ctx
	if q.For != nil {
		// The connection's parsed peer (clientip.ConnContext) travels in
		// the original request's context; keep it.
		rctx = clientip.WithPeerOf(ctx, q.For)
		req.RemoteAddr = q.For.RemoteAddr
		req.Header.Set("User-Agent", q.For.UserAgent())
		if xff := q.For.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			req.Header["X-Forwarded-For"] = xff
		}
	}
	if q.Quiet != nil {
		rctx = context.WithValue(rctx, readLogKey{}, q.Quiet)
	}
	req = req.WithContext(rctx)
	req.Header.Set("Authorization", "Bearer "+q.Credential)
	req.Header.Set("Accept", "application/json")
	req.SetPathValue("rack", q.Rack)
	w := &bufferedAnswer{header: http.Header{}}
	if q.Socket {
		return h.readSocket(ctx, req, w)
	}
	h.ServeNamed(w, req)
	return w.answer()
}

func (b *bufferedAnswer) answer() (RackAnswer, error) {
	if b.err != nil {
		return RackAnswer{}, b.err
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return RackAnswer{Status: b.status, Header: b.header, Body: b.body}, nil
}

// readSocket serves req as a websocket upgrade whose connection is one end
// of an in-memory pipe, and reads the stream's frames from the other.
func (h *Handler) readSocket(ctx context.Context, req *http.Request, w *bufferedAnswer) (RackAnswer, error) {
	var key [16]byte
	_, _ = rand.Read(key[:])
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	ours, theirs := net.Pipe()
	w.pipe, w.hijacked = theirs, make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeNamed(w, req)
	}()
	defer func() { _ = ours.Close(); <-done }()
	select {
	case <-done: // answered without switching: a refusal or a failure
		_ = theirs.Close()
		return w.answer()
	case <-w.hijacked:
	}
	stop := context.AfterFunc(ctx, func() { _ = ours.Close() })
	defer stop()
	br := bufio.NewReader(ours)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		return RackAnswer{}, err
	}
	_ = res.Body.Close()
	ans := RackAnswer{Status: res.StatusCode, Header: res.Header}
	if res.StatusCode != http.StatusSwitchingProtocols {
		return ans, nil
	}
	ans.Body, ans.Cut = readFrames(br, maxSocketRead)
	return ans, nil
}

// readFrames reads a rack's server-to-client websocket stream: data in
// text (or binary) frames, ended by an empty binary frame (the rack's
// end of stream), a close frame or the connection's end. cut reports a
// stream that did not end (bound reached, read failed).
func readFrames(r *bufio.Reader, bound int) (data []byte, cut bool) {
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return data, !errors.Is(err, io.EOF)
		}
		op := hdr[0] & 0x0f
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return data, true
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return data, true
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		masked := hdr[1]&0x80 != 0
		if masked {
			if _, err := io.ReadFull(r, mask[:]); err != nil {
				return data, true
			}
		}
		if n > uint64(bound-len(data)) {
			return data, true
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return data, true
		}
		if masked {
			for i := range p {
				p[i] ^= mask[i%4]
			}
		}
		switch {
		case op == 8, op == 2 && n == 0:
			return data, false
		case op == 0, op == 1, op == 2:
			data = append(data, p...)
		}
		// Pings and pongs are ignored: the read is short-lived.
	}
}

// bufferedAnswer is the http.ResponseWriter behind Read: it keeps the
// status, headers and a bounded body; for a socket read it hands the
// handler one end of a pipe when it switches protocols.
type bufferedAnswer struct {
	header http.Header
	status int
	body   []byte
	err    error
	limit  int // bytes of body kept; 0: maxReadBody

	pipe     net.Conn      // a socket read's connection, for Hijack
	hijacked chan struct{} // closed by Hijack
}

func (b *bufferedAnswer) Header() http.Header { return b.header }

func (b *bufferedAnswer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedAnswer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	limit := b.limit
	if limit == 0 {
		limit = maxReadBody
	}
	if len(b.body)+len(p) > limit {
		b.err = errReadTooLarge
		return 0, b.err
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

// Hijack gives a socket read's handler its connection (once).
func (b *bufferedAnswer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if b.pipe == nil {
		return nil, nil, http.ErrNotSupported
	}
	c := b.pipe
	b.pipe = nil
	close(b.hijacked)
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}
