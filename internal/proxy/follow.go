package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/clientip"
)

// followHandshakeTimeout bounds the opening of a followed stream: the
// pipeline's decision, the write-ahead record and the rack's 101.
const followHandshakeTimeout = 30 * time.Second

// maxFollowFrame bounds one websocket frame read from the rack (log lines
// are far smaller; the rack writes one frame per write).
const maxFollowFrame = 1 << 20

// RackFollow opens a rack websocket that only the rack talks on (an app's
// logs) on behalf of a signed-in person (the console's live log page).
// The upgrade is served by the very pipeline that serves the convox CLI's
// websockets: authenticated, authorized before the upgrade, audited, and
// tracked as a live stream, so a revoked session or a lowered role cuts it
// like any CLI stream.
type RackFollow struct {
	Rack string // a configured rack's name
	// Path is the rack API path of a websocket route, each segment already
	// escaped, e.g. "/apps/myapp/logs".
	Path string
	// Header carries the route's options, as the convox CLI sends them
	// (Follow, Since, Filter, Prefix for logs).
	Header http.Header
	// Credential is the person's session (or API token), sent as a Bearer
	// token.
	Credential string
	// For is the request being served: the stream takes its peer address,
	// forwarded-for chain, user agent, Host and Origin.
	For *http.Request
}

// FollowStream is an open stream: Next returns what the rack sends; Close
// ends it (and the rack's side) and may be called more than once.
type FollowStream struct {
	conn   *websocket.Conn
	cancel context.CancelFunc // ends the call inside the pipeline
	srv    *http.Server
	once   sync.Once
	done   chan struct{} // closed when the pipeline's call has returned
}

// Follow opens q. A refusal (by the gateway or the rack) is no error: the
// stream is nil and the answer says why. An error means the stream could
// not be opened at all.
func (h *Handler) Follow(ctx context.Context, q RackFollow) (*FollowStream, RackAnswer, error) {
	host := "gateway.internal"
	if q.For != nil && q.For.Host != "" {
		host = q.For.Host
	}
	u, err := url.Parse("ws://" + host + "/racks/" + url.PathEscape(q.Rack) + q.Path)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, RackAnswer{}, errors.New("proxy: Follow path is not a plain path")
	}
	hdr := http.Header{}
	for k, vs := range q.Header {
		hdr[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	hdr.Set("Authorization", "Bearer "+q.Credential)
	if q.For != nil {
		hdr.Set("User-Agent", q.For.UserAgent())
		if xff := q.For.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hdr["X-Forwarded-For"] = xff
		}
		if o := q.For.Header.Get("Origin"); o != "" {
			hdr.Set("Origin", o)
		}
	}

	// The stream's own context: the call inside the pipeline lives in it,
	// so that Close (or ctx ending) cuts the rack's side at once.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	peer := sctx
	if q.For != nil {
		peer = clientip.WithPeerOf(sctx, q.For)
	}
	client, server := net.Pipe()
	fs := &FollowStream{cancel: cancel, done: make(chan struct{})}
	var served sync.Once
	fs.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer served.Do(func() { close(fs.done) })
			in := r.WithContext(peer)
			if q.For != nil {
				in.RemoteAddr = q.For.RemoteAddr
			}
			in.SetPathValue("rack", q.Rack)
			h.ServeNamed(w, in)
		}),
		ReadHeaderTimeout: followHandshakeTimeout,
	}
	l := &oneConnListener{conn: server, closed: make(chan struct{})}
	go func() { _ = fs.srv.Serve(l) }()

	d := websocket.Dialer{
		NetDialContext:   func(context.Context, string, string) (net.Conn, error) { return client, nil },
		HandshakeTimeout: followHandshakeTimeout,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  1 << 10,
	}
	conn, resp, err := d.DialContext(ctx, u.String(), hdr)
	if err != nil {
		fs.closeAll(client)
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxActBody))
			return nil, RackAnswer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
		}
		return nil, RackAnswer{}, err
	}
	conn.SetReadLimit(maxFollowFrame)
	fs.conn = conn
	go func() {
		select {
		case <-ctx.Done(): // the person went away, or the caller's bound
		case <-sctx.Done():
		}
		fs.Close()
	}()
	return fs, RackAnswer{Status: resp.StatusCode, Header: resp.Header}, nil
}

// Next returns the next data the rack sent; io.EOF at the end of the
// stream (the rack's empty binary frame, or the stream was closed or
// cut).
func (s *FollowStream) Next() ([]byte, error) {
	for {
		mt, data, err := s.conn.ReadMessage()
		switch {
		case err != nil:
			return nil, io.EOF
		case mt == websocket.BinaryMessage: // the rack's end of stream
			return nil, io.EOF
		case len(data) > 0:
			return data, nil
		}
	}
}

// Close ends the stream: the rack is told (the convox framing's empty
// binary frame), both sides are closed and Close waits until the
// pipeline's call has returned (audited its outcome, stopped tracking the
// stream).
func (s *FollowStream) Close() {
	s.once.Do(func() {
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = s.conn.WriteMessage(websocket.BinaryMessage, []byte{})
		s.closeAll(s.conn.NetConn())
	})
	<-s.done
}

func (s *FollowStream) closeAll(client net.Conn) {
	s.cancel()
	_ = client.Close()
	_ = s.srv.Close()
}

// oneConnListener hands one connection to an http.Server, then blocks
// until closed.
type oneConnListener struct {
	mu     sync.Mutex
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
