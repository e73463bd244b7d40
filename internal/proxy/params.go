package proxy

import (
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// maxValueLen bounds one recorded parameter value.
const maxValueLen = 256

// auditParams returns the request parameters a route allows to be recorded:
// AuditParams with their values (form, then query, then header, as the rack
// reads them) and SecretParams only as "[redacted]" when present. Anything
// else is left out.
func auditParams(rt *routes.Route, form url.Values, rawQuery string, h http.Header) map[string]string {
	if rt == nil || len(rt.AuditParams)+len(rt.SecretParams) == 0 {
		return nil
	}
	query, _ := url.ParseQuery(rawQuery)
	var out map[string]string
	lookup := func(name string) (string, bool) {
		if v, ok := form[name]; ok && len(v) > 0 {
			return v[0], true
		}
		if v, ok := query[name]; ok && len(v) > 0 {
			return v[0], true
		}
		if v := h.Get(name); v != "" {
			return v, true
		}
		return "", false
	}
	for _, name := range rt.AuditParams {
		if v, ok := lookup(name); ok {
			if out == nil {
				out = map[string]string{}
			}
			if len(v) > maxValueLen {
				v = v[:maxValueLen] + "…"
			}
			out[name] = v
		}
	}
	for _, name := range rt.SecretParams {
		if _, ok := lookup(name); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = audit.Redacted
		}
	}
	return out
}

// readParameters reads the small form body of a mutating call, so that the
// guards can inspect it and allow-listed parameters can be audited; bulk
// streams are never read. It records the route's audit parameters.
func (h *Handler) readParameters(c *call) *refusal {
	rt := c.route
	if rt.Mutating && !rt.Stream && isForm(c.r) {
		form, err := bufferForm(c.r, maxFormBody)
		if err != nil {
			return refuse(http.StatusRequestEntityTooLarge, authz.ReasonBadRequest, "rack-gateway: "+err.Error())
		}
		c.form = form
	}
	if ps := auditParams(rt, c.form, c.r.URL.RawQuery, c.r.Header); len(ps) > 0 {
		c.addDetails(map[string]any{"params": ps})
	}
	return nil
}
