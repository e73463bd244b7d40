package proxy

import (
	"fmt"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// stage is one step of the pipeline: it lets the call go on (nil) or
// refuses it. A refused call is answered, audited and counted (refuse) and
// never reaches the rack.
type stage struct {
	name string
	run  func(*call) *refusal
}

// pipeline lists the stages every rack call goes through, in order. After
// the last one the call is forwarded (forward.go).
func (h *Handler) pipeline() []stage {
	return []stage{
		{"rate-limit", h.rateLimit},      // an address past its budget of failures waits (ratelimit.go)
		{"audit-room", h.auditRoom},      // room in the audit queue for this call's record, or 503 at once
		{"rack", h.findRack},             // the rack the URL names
		{"path", h.checkPath},            // a canonical path; the CLI's probes are answered quietly
		{"route", h.matchRoute},          // a route of the rack API table, or refused
		{"authenticate", h.authenticate}, // API token or login session → principal (authenticate.go)
		{"cross-site", h.crossSite},      // nothing driven by another site's page (crosssite.go)
		{"authorize", h.authorize},       // the one policy decision (authorize.go)
		{"step-up", h.stepUp},            // a second factor, when the decision asks for one
		{"parameters", h.readParameters}, // small form bodies read for the guards and the audit (params.go)
		{"approval", h.approval},         // a person's approval, when the decision asks for one
		{"guard", h.guard},               // the route's request check, if any (guards.go)
		{"write-ahead", h.writeAhead},    // mutating calls recorded durably before forwarding (writeahead.go)
	}
}

// auditRoom takes room in the audit queue for the call's record before
// anything else is done, so that no call waits on a full queue (the
// database has been down long enough to fill it): it is refused at once,
// and the refusals are counted into one event when writes resume.
func (h *Handler) auditRoom(c *call) *refusal {
	slot, ok := h.audit.Reserve()
	if !ok {
		return &refusal{status: http.StatusServiceUnavailable, reason: authz.ReasonAuditUnavailable, unrecorded: true,
			msg: "rack-gateway: refused: the audit log is unavailable and its queue is full; try again shortly"}
	}
	c.slot = slot
	return nil
}

// findRack looks up the rack the URL names.
func (h *Handler) findRack(c *call) *refusal {
	c.up = h.racks[c.rack]
	if c.up == nil {
		c.ev.Rack = truncate(c.rack, 128)
		return refuse(http.StatusNotFound, authz.ReasonUnknownRack,
			fmt.Sprintf("rack-gateway: no rack named %q on this gateway", c.rack))
	}
	return nil
}

// checkPath strips the gateway's prefix and refuses paths that are not
// canonical (encoded or dot segments, double slashes, control characters),
// so that the gateway and the rack can never read one path two ways.
func (h *Handler) checkPath(c *call) *refusal {
	path, rawPath, ok := stripPrefix(c.r.URL, c.prefix)
	if !ok {
		return refuse(http.StatusBadRequest, authz.ReasonBadPath, "rack-gateway: path is not canonical")
	}
	c.path, c.rawPath = path, rawPath
	c.ev.Path = truncate(path, 512)
	// The convox CLI probes these before every websocket and ignores the
	// 404; answer quietly without auditing or forwarding.
	if (path == "/machines" || path == "/racks") && c.r.Method == http.MethodGet {
		return &refusal{status: http.StatusNotFound, quiet: true}
	}
	escaped := rawPath
	if escaped == "" {
		escaped = path
	}
	if err := routes.CheckPath(escaped, path); err != nil {
		return refuse(http.StatusBadRequest, authz.ReasonBadPath,
			"rack-gateway: refused: the path has encoded or dot segments, double slashes or control characters")
	}
	return nil
}

// matchRoute finds the call's route in the rack API table; nothing that
// matches no route is ever forwarded.
func (h *Handler) matchRoute(c *call) *refusal {
	c.websocket = isWebsocket(c.r)
	m, ok := h.matcher.Match(c.r.Method, c.path, c.websocket)
	if !ok {
		return refuse(http.StatusForbidden, authz.ReasonNoRoute,
			fmt.Sprintf("rack-gateway: refused: %s %s is not a known rack API route", c.r.Method, c.path))
	}
	rt := m.Route
	c.match, c.route = m, rt
	c.ev.Route, c.ev.Action, c.ev.Permission = rt.Name, rt.Name, string(rt.Permission)
	c.ev.App, c.ev.Resource = m.App(), truncate(m.Resource(), 256)
	return nil
}
