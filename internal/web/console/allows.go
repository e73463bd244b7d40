package console

import (
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// allows reports whether the signed-in principal's policy would allow the
// rack call method rackPath (a decoded rack API path; method "SOCKET" for
// a websocket route) on the selected rack: the route is found in the same
// table the proxy matches, and its permission asked of the same policy. A
// call that needs a second factor first counts as allowed (the action
// asks for it). It decides which links and buttons a page offers, nothing
// more: the proxy decides every call again.
func (c *console) allows(q *request, method, rackPath string) bool {
	ws := method == "SOCKET"
	if ws {
		method = "GET"
	}
	if routes.CheckPath(rackPath, rackPath) != nil {
		return false
	}
	m, ok := routes.Default().Match(method, rackPath, ws)
	if !ok || m.Route.Public {
		return ok
	}
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: m.Route.Permission, Rack: q.rack, App: m.App()})
	return d.Allow || d.Reason == authz.ReasonStepUpRequired || d.Reason == authz.ReasonApprovalRequired
}
