package proxy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// rateLimit answers 429 to an address that has spent its budget of
// failures (limits.FailureLimiter), before anything else is looked at, so
// a flood of bad tokens costs neither a credential lookup nor an audit row
// each. A caller whose credential this gateway already holds as good is
// let through: one attacker behind a shared address does not lock out
// its legitimate users.
func (h *Handler) rateLimit(c *call) *refusal {
	wait, blocked := h.failures.Blocked(c.ev.SourceIP)
	if !blocked || h.authn.Known(c.r.Header.Get("Authorization")) {
		return nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	c.w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return &refusal{status: http.StatusTooManyRequests, reason: authz.ReasonRateLimited, limited: true,
		msg: "rack-gateway: too many failed requests from your address; try again in " + strconv.Itoa(max(secs, 1)) + "s"}
}

// RecordRateLimited audits the calls refused for their address's failures
// since the last call: one event per address, with the count.
func (h *Handler) RecordRateLimited() {
	for addr, n := range h.failures.TakeRefused() {
		h.audit.Record(&chain.Event{Time: time.Now(), RequestID: audit.NewRequestID(), ActorType: "anonymous",
			Actor: "anonymous", SourceIP: addr, Action: "rate_limit", Decision: "deny",
			Reason: string(authz.ReasonRateLimited), Status: http.StatusTooManyRequests,
			Details: audit.Details(map[string]any{"refused": n})})
	}
}

// RunRateLimitReports records the counted refusals every interval until
// ctx ends, then once more.
func (h *Handler) RunRateLimitReports(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.RecordRateLimited()
			return
		case <-t.C:
			h.RecordRateLimited()
		}
	}
}
