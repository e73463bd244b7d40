package proxy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// errAccessEnded cuts a live stream whose caller has lost the right to it.
var errAccessEnded = errors.New("the caller's access ended")

// liveStreams are the calls that may outlive a revocation: websockets
// (exec, logs, console, tunnels) and bulk streams. Each is re-decided on a
// schedule and whenever this process changes access, and cut when its
// credential or its permission is gone.
type liveStreams struct {
	mu    sync.Mutex
	calls map[*call]*stream
}

// stream is what a recheck needs of a live call, copied when it is
// tracked: the call's own goroutine goes on writing to the call.
type stream struct {
	cred       string // the Authorization header
	permission authz.Permission
	rack, app  string
	ev         chain.Event // the call's audit record as it was forwarded
	start      time.Time
	cut        context.CancelCauseFunc
}

// track registers c, whose pipeline has run, until untrack.
func (h *Handler) track(c *call) {
	s := &stream{cred: c.r.Header.Get("Authorization"), permission: c.route.Permission, rack: c.rack,
		app: c.match.App(), ev: c.ev, start: c.start, cut: c.cut}
	h.live.mu.Lock()
	if h.live.calls == nil {
		h.live.calls = map[*call]*stream{}
	}
	h.live.calls[c] = s
	h.live.mu.Unlock()
}

func (h *Handler) untrack(c *call) {
	h.live.mu.Lock()
	delete(h.live.calls, c)
	h.live.mu.Unlock()
}

// LiveStreams is how many streams are open.
func (h *Handler) LiveStreams() int {
	h.live.mu.Lock()
	defer h.live.mu.Unlock()
	return len(h.live.calls)
}

// RecheckStreams decides every open stream again, from the credential
// store (not the cache, so revocations made by another replica count), and
// cuts those whose caller may no longer use them: a revoked token or
// session, a disabled user, a role that no longer grants the route. A
// second factor or an approval is asked for when a call starts, never in
// the middle of a stream. Each cut is audited. A store that cannot answer
// cuts nothing (the stream was allowed; the next check decides). It
// returns how many streams it cut.
func (h *Handler) RecheckStreams(ctx context.Context) int {
	h.live.mu.Lock()
	streams := make([]*stream, 0, len(h.live.calls))
	for _, s := range h.live.calls {
		streams = append(streams, s)
	}
	h.live.mu.Unlock()

	type answer struct {
		p      *authz.Principal
		reason authz.Reason
		err    error
	}
	byCred := map[string]answer{} // one store lookup per credential
	cut := 0
	for _, s := range streams {
		if s.permission == "" { // a public route
			continue
		}
		ans, ok := byCred[s.cred]
		if !ok {
			res, err := h.authn.Recheck(ctx, s.cred)
			ans = answer{p: res.Principal, reason: res.Reason, err: err}
			byCred[s.cred] = ans
		}
		if ans.err != nil {
			continue
		}
		reason := ans.reason
		if ans.p != nil {
			d := h.policy.Decide(authz.Request{Principal: ans.p, Permission: s.permission,
				Rack: s.rack, App: s.app, Approved: true})
			if d.Allow || d.Reason == authz.ReasonStepUpRequired {
				continue
			}
			reason = d.Reason
		}
		h.cutStream(s, reason)
		cut++
	}
	return cut
}

// cutStream ends a stream (the reverse proxy closes both connections when
// the call's context ends) and audits why.
func (h *Handler) cutStream(s *stream, reason authz.Reason) {
	s.cut(errAccessEnded)
	ev := s.ev
	ev.Time = time.Now()
	ev.Decision, ev.Reason, ev.Status = "deny", string(reason), 0
	ev.DurationUS = time.Since(s.start).Microseconds()
	ev.Details = audit.Details(map[string]any{"phase": "cut"})
	h.audit.Record(&ev)
	h.log.Info("stream cut: the caller's access ended", "route", ev.Route, "actor", ev.Actor,
		"reason", string(reason), "request_id", ev.RequestID)
}

// RunStreamRechecks rechecks open streams every interval, and as soon as
// Kick is called, until ctx ends.
func (h *Handler) RunStreamRechecks(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		if h.LiveStreams() > 0 {
			rctx, cancel := context.WithTimeout(ctx, interval)
			h.RecheckStreams(rctx)
			cancel()
		}
	}
}

// Kick asks for a recheck of the open streams now (after this process
// changed someone's access); it never blocks.
func (h *Handler) Kick() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// streamsCallFor reports whether a call is tracked as a live stream.
func streamsCallFor(c *call) bool {
	return c.websocket || c.route.Stream
}
