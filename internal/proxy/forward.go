package proxy

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
)

// forward sends an allowed call to the rack, relays the answer (filtered
// for the caller, streamed, or switched to a websocket) and audits the
// outcome.
func (h *Handler) forward(c *call) {
	r := c.r
	c.filterActive = h.filterActive(c.route, c.principal, c.rack)
	if c.websocket && c.route.Mutating { // exec, shell, console: audited as one session
		c.session = newSession()
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	base := withCall(r.Context(), c)
	if streamsCallFor(c) {
		var cancel context.CancelCauseFunc
		base, cancel = context.WithCancelCause(base)
		defer cancel(nil)
		c.cut = cancel
		h.track(c)
	}
	ctx, watch := h.headers.watch(base, hasBody)
	defer watch.release()
	c.watch = watch
	out := r.WithContext(ctx)
	if hasBody {
		out.Body = watch.body(&clientBody{ReadCloser: r.Body, failed: &c.bodyFailed})
		if c.grant != nil { // an approved upload's images are checked as it streams
			out.Body = c.grant.Body(out.Body)
		}
	}
	u := *r.URL
	u.Path, u.RawPath = c.path, c.rawPath
	out.URL = &u
	sw := &statusWriter{ResponseWriter: c.w}
	if c.websocket {
		h.streams.Add(1)
		defer h.streams.Done()
	}
	c.up.proxy.ServeHTTP(sw, out)
	if c.cut != nil {
		h.untrack(c)
	}

	c.ev.Status = sw.status
	if sw.status == 0 {
		c.ev.Status = 499 // client went away before any response
	}
	c.ev.DurationUS = time.Since(c.start).Microseconds()
	if c.upstreamReason != "" {
		c.ev.Reason = string(c.upstreamReason)
	}
	phases := c.phases
	if c.session != nil && c.ev.Status == http.StatusSwitchingProtocols {
		c.addDetails(map[string]any{"session": c.session.details()})
		if phases != nil {
			p := audit.NewPhased(c.details)
			phases = &p
		}
	}
	if phases != nil {
		c.ev.Details = phases.With("outcome")
	} else {
		c.ev.Details = audit.Details(c.details)
	}
	h.recordOutcome(c) // quiet console reads are collected (read.go)
	h.metrics.observe(c.rack, c.route.Name, c.ev.Decision, c.ev.Status, time.Since(c.start))
}

// clientBody notes when the client's request body cannot be read (a
// malformed chunked encoding, a connection cut mid-upload), so that the
// failure is answered as the client's, not as the rack's.
type clientBody struct {
	io.ReadCloser
	failed *atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}
