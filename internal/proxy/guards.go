package proxy

import (
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// guardFunc checks, and may rewrite, a request before it is forwarded. It
// records what it found in details (audited with the call, or with its
// refusal).
type guardFunc func(h *Handler, c *call, details map[string]any) *refusal

// guards is the registry of request checks, keyed by the route table's
// Guard names.
var guards = map[routes.Guard]guardFunc{
	routes.GuardReleaseEnv: (*Handler).guardReleaseEnv,
}

// checkGuards fails if a route names a guard that is not registered, so
// that a route can never be forwarded unchecked by mistake.
func checkGuards(table []routes.Route) error {
	for _, rt := range table {
		if rt.Guard == routes.GuardNone {
			continue
		}
		if _, ok := guards[rt.Guard]; !ok {
			return fmt.Errorf("proxy: route %s %s names guard %q, which is not registered", rt.Method, rt.Path, rt.Guard)
		}
	}
	return nil
}

// guard runs the route's guard, if it has one.
func (h *Handler) guard(c *call) *refusal {
	if c.route.Guard == routes.GuardNone {
		return nil
	}
	g := guards[c.route.Guard] // registered: checked in New
	details := map[string]any{}
	if f := g(h, c, details); f != nil {
		f.details = details
		return f
	}
	c.addDetails(details)
	return nil
}
