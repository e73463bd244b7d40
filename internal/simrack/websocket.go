package simrack

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsWriteTimeout bounds a single frame write so a client that stopped
// reading cannot pin a handler forever.
const wsWriteTimeout = 30 * time.Second

// wsConn wraps a server-side websocket with the rack's framing: data travels
// in text frames, an empty binary frame ends the stream in either direction,
// and no close frames are ever sent.
//
// A single reader goroutine runs for the connection's lifetime so control
// frames (the CLI's keepalive pings) are always answered and a vanished
// client is noticed even by handlers that never read.
type wsConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	in   chan wsMsg    // client frames, in order
	gone chan struct{} // closed when reading fails (client hung up)

	// ctx is cancelled when the client goes away.
	ctx    context.Context
	cancel context.CancelFunc
}

// wsMsg is one client frame: text data, or eof for a binary frame.
type wsMsg struct {
	data []byte
	eof  bool
}

func newWSConn(conn *websocket.Conn) *wsConn {
	ctx, cancel := context.WithCancel(context.Background())
	w := &wsConn{
		conn:   conn,
		in:     make(chan wsMsg, 64),
		gone:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	go w.readLoop()
	return w
}

func (w *wsConn) readLoop() {
	defer close(w.gone)
	defer w.cancel()
	for {
		mt, data, err := w.conn.ReadMessage()
		if err != nil {
			return
		}
		msg := wsMsg{data: data}
		if mt == websocket.BinaryMessage {
			// stdapi's Context.Read turns any binary frame into EOF.
			msg = wsMsg{eof: true}
		}
		select {
		case w.in <- msg:
		case <-w.ctx.Done():
			return
		}
	}
}

// writeText sends p as one text frame (stdapi writes one frame per Write).
func (w *wsConn) writeText(p []byte) error {
	return w.write(websocket.TextMessage, p)
}

// writeEOF sends the empty binary frame that ends the stream.
func (w *wsConn) writeEOF() error {
	return w.write(websocket.BinaryMessage, []byte{})
}

func (w *wsConn) write(mt int, p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	return w.conn.WriteMessage(mt, p)
}

// finish waits (discarding input) until the client hangs up or linger
// elapses, then drops the TCP connection without a close frame. A real rack
// never closes these connections itself; the linger keeps that behaviour for
// well-behaved clients without leaking goroutines forever.
func (w *wsConn) finish(linger time.Duration) {
	t := time.NewTimer(linger)
	defer t.Stop()
	for {
		select {
		case <-w.in:
		case <-w.gone:
			w.conn.Close()
			return
		case <-t.C:
			w.cancel()
			w.conn.Close()
			<-w.gone
			return
		}
	}
}

// stdin is an io.Reader over the client's text frames that reports io.EOF
// at the client's empty binary frame or when the client goes away.
type stdin struct {
	ws       *wsConn
	buf      []byte
	eof      bool
	disabled bool
}

func (s *stdin) Read(p []byte) (int, error) {
	if s.disabled {
		return 0, io.EOF
	}
	for len(s.buf) == 0 {
		if s.eof {
			return 0, io.EOF
		}
		select {
		case m := <-s.ws.in:
			if m.eof {
				s.eof = true
				continue
			}
			s.buf = m.data
		case <-s.ws.gone:
			// Drain anything that arrived before the hang-up.
			select {
			case m := <-s.ws.in:
				if m.eof {
					s.eof = true
				} else {
					s.buf = m.data
				}
				continue
			default:
			}
			s.eof = true
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// ttyWriter writes to the socket, translating "\n" to "\r\n" when the
// session has a TTY (as a pty's onlcr would).
type ttyWriter struct {
	ws  *wsConn
	tty bool
}

func (t *ttyWriter) Write(p []byte) (int, error) {
	out := p
	if t.tty {
		out = bytes.ReplaceAll(bytes.ReplaceAll(p, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	}
	if err := t.ws.writeText(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// untilEOF returns a channel closed when the client ends its side of the
// stream (empty binary frame) or goes away. For output-only handlers such as
// log streams; it consumes and discards any client data.
func (w *wsConn) untilEOF() <-chan struct{} {
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for {
			select {
			case m := <-w.in:
				if m.eof {
					return
				}
			case <-w.gone:
				return
			}
		}
	}()
	return stop
}
