package proxy

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// writeAhead records a mutating call (or an interactive session) durably
// before it is forwarded, as an "attempt"; if that write fails the call is
// refused, so nothing reaches the rack that the log does not hold. The
// outcome follows after the call (forward.go).
func (h *Handler) writeAhead(c *call) *refusal {
	if !c.route.Mutating {
		return nil
	}
	attempt := c.ev
	phases := audit.NewPhased(c.details)
	attempt.Details = phases.With("attempt")
	if err := h.audit.RecordSync(c.r.Context(), &attempt); err != nil {
		return refuse(http.StatusServiceUnavailable, authz.ReasonAuditUnavailable,
			"rack-gateway: refused: the audit log is unavailable, so changes are blocked; try again shortly")
	}
	c.phases = &phases
	return nil
}
