package proxy

import (
	"bytes"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// exitMarker precedes the exit code in the rack's exec/shell stream
// (`F1E49A85-…:<code>\n` in a text frame).
var exitMarker = []byte("F1E49A85-0AD7-4AEF-A618-C249C6E6568D:")

// session accounts for one interactive websocket (exec, run, shell,
// console): bytes each way on the wire and the exit code the rack sent.
// The proxy audits it as one object in the call's outcome event.
type session struct {
	start    time.Time
	bytesIn  atomic.Int64 // client → rack
	bytesOut atomic.Int64 // rack → client
	exitCode atomic.Int64 // -1 until seen
	tail     []byte       // the end of the previous read, for a marker split across reads
}

func newSession() *session {
	s := &session{start: time.Now()}
	s.exitCode.Store(-1)
	return s
}

// details is the audited session object.
func (s *session) details() map[string]any {
	d := map[string]any{
		"duration_ms": time.Since(s.start).Milliseconds(),
		"bytes_in":    s.bytesIn.Load(),
		"bytes_out":   s.bytesOut.Load(),
	}
	if c := s.exitCode.Load(); c >= 0 {
		d["exit_code"] = c
	}
	return d
}

// scan looks for the exit marker in data read from the rack. Server frames
// are unmasked, so the marker appears verbatim in the byte stream.
func (s *session) scan(p []byte) {
	buf := append(s.tail, p...)
	for i := 0; ; {
		j := bytes.Index(buf[i:], exitMarker)
		if j < 0 {
			break
		}
		k := i + j + len(exitMarker)
		e := k
		for e < len(buf) && buf[e] >= '0' && buf[e] <= '9' && e-k < 6 {
			e++
		}
		if e < len(buf) && buf[e] == '\n' && e > k {
			if n, err := strconv.Atoi(string(buf[k:e])); err == nil {
				s.exitCode.Store(int64(n))
			}
		}
		i = k
	}
	keep := len(exitMarker) + 8
	if len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	s.tail = append(s.tail[:0], buf...)
}

// sessionConn wraps the rack side of an upgraded connection.
type sessionConn struct {
	io.ReadWriteCloser
	s *session
}

func (c *sessionConn) Read(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(p)
	if n > 0 {
		c.s.bytesOut.Add(int64(n))
		c.s.scan(p[:n])
	}
	return n, err
}

func (c *sessionConn) Write(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Write(p)
	c.s.bytesIn.Add(int64(n))
	return n, err
}
