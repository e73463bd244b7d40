package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// approval handles a deploy step that needs a person's approval: the
// approvals service judges it against the token's latest request and, if
// an approval covers this very call, claims the step for it; the call is
// then decided again with Request.Approved set (which lifts the approval
// requirement and nothing else). The claim is recorded or given back with
// the call's outcome (call.finishGrant).
func (h *Handler) approval(c *call) *refusal {
	if c.decision.Reason != authz.ReasonApprovalRequired {
		return nil
	}
	if h.approvals == nil {
		return refuse(http.StatusForbidden, authz.ReasonApprovalRequired, denyMessage(c.decision, c.route))
	}
	g, err := h.approvals.Gate(c.r.Context(), approval.Call{Principal: c.principal, Rack: c.rack, App: c.match.App(),
		Route: c.route.Name, Key: c.match.Params.Get("key"), ID: c.match.Params.Get("id"), Form: c.form,
		Param: func(name string) string { return callParam(c, name) }})
	var denied *approval.Denied
	switch {
	case errors.As(err, &denied):
		f := refuse(http.StatusForbidden, authz.ReasonApprovalRequired, denied.Msg)
		if denied.RequestID != 0 {
			f.details = map[string]any{"approval": map[string]any{"request_id": denied.RequestID}}
		}
		return f
	case err != nil:
		return refuse(http.StatusServiceUnavailable, authz.ReasonStoreUnavailable, "rack-gateway: "+err.Error())
	}
	c.grant = g
	c.addDetails(map[string]any{"approval": g.Details()})
	d := h.policy.Decide(authz.Request{Principal: c.principal, Permission: c.route.Permission, Rack: c.rack,
		App: c.match.App(), Now: c.start, Approved: true})
	c.decision = d
	if !d.Allow {
		return refuse(http.StatusForbidden, d.Reason, denyMessage(d, c.route))
	}
	c.ev.Decision, c.ev.Reason = "allow", string(authz.ReasonAllowed)
	return nil
}

// BuildRelease reads the release a build produced, with the gateway's own
// rack credential (approval.BuildReader): the approvals service checks a
// promote against the approved build with it.
func (h *Handler) BuildRelease(ctx context.Context, rack, app, buildID string) (string, error) {
	up := h.racks[rack]
	if up == nil {
		return "", fmt.Errorf("no rack named %q", rack)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return "", err
	}
	body, status, err := up.get(r, "/apps/"+url.PathEscape(app)+"/builds/"+url.PathEscape(buildID))
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("the rack answered %d", status)
	}
	var b struct {
		Release string `json:"release"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", err
	}
	return b.Release, nil
}

// callParam is a parameter of the call as the rack reads it: form, then
// query, then header.
func callParam(c *call, name string) string {
	if v := c.form.Get(name); v != "" {
		return v
	}
	if v := c.r.URL.Query().Get(name); v != "" {
		return v
	}
	return c.r.Header.Get(name)
}
