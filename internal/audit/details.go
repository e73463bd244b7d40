package audit

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// Redacted replaces a secret value in audit details.
const Redacted = "[redacted]"

// maxValueLen bounds one recorded parameter value.
const maxValueLen = 256

// Params returns the request parameters a route allows to be recorded:
// AuditParams with their values (form, then query, then header, as the rack
// reads them) and SecretParams only as "[redacted]" when present. Anything
// else is left out.
func Params(rt *routes.Route, form url.Values, rawQuery string, h http.Header) map[string]string {
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
			out[name] = Redacted
		}
	}
	return out
}

// Details encodes an allow-listed detail object; nil or empty gives "".
func Details(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	b, err := json.Marshal(d)
	if err != nil {
		return ""
	}
	return string(b)
}
