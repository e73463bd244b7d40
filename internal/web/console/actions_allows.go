package console

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// mayAct reports whether the signed-in person's role lets them make the
// rack call method rackPath (e.g. "POST", "/apps/myapp/services/web/restart";
// "SOCKET" for a websocket route) on the selected rack: the route is found
// in the rack API table as the proxy finds it, and the one policy decides
// for its permission. A second factor or an approval that the call would
// still need does not count against it here: the proxy asks for those when
// the call is made. It decides what pages offer and which action pages
// open; the proxy decides every call again.
func (c *console) mayAct(q *request, method, rackPath string) bool {
	websocket := method == "SOCKET"
	if websocket {
		method = http.MethodGet
	}
	m, ok := routes.Default().Match(method, rackPath, websocket)
	if !ok || m.Route.Public {
		return ok
	}
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: m.Route.Permission, Rack: q.rack, App: m.App()})
	return d.Allow || d.Reason == authz.ReasonStepUpRequired || d.Reason == authz.ReasonApprovalRequired
}
