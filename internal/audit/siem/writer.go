package siem

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Writer is a Sink that writes one NDJSON line per event to an io.Writer,
// typically stdout for a log shipper. Sends are serialized and each batch is
// written with a single Write call, so lines never interleave. Writes are
// synchronous; use it only with a writer that does not block for long.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	err    error // first write error
	closed bool
}

var _ Sink = (*Writer)(nil)

// NewWriter returns a Writer that writes to w. It never closes w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Send writes the events, one line each, in order. After Close, or after a
// write error, it does nothing; the error is reported by Err and Close.
func (s *Writer) Send(events []chain.Event) {
	if len(events) == 0 {
		return
	}
	var buf bytes.Buffer
	for _, e := range events {
		if err := encodeRecord(&buf, NewRecord(e)); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	if _, err := s.w.Write(buf.Bytes()); err != nil {
		s.err = err
	}
}

// Err returns the first error the Writer met, if any.
func (s *Writer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops further writes and returns the first error the Writer met.
// It does not close the underlying writer.
func (s *Writer) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.err
}
