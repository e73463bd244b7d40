package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

// maxFilteredBody bounds a JSON response the gateway rewrites.
const maxFilteredBody = 32 << 20

// filterActive tells whether this caller's response on this route must be
// rewritten: only when the route has a filter and the caller lacks the
// permission that would let them see everything.
func (h *Handler) filterActive(rt *routes.Route, p *authz.Principal, rack string) bool {
	if rt.Filter == routes.FilterNone || p == nil {
		return rt.Filter != routes.FilterNone
	}
	switch rt.Filter {
	case routes.FilterReleaseEnv:
		// Raw env needs both: env:read to see it at all, secret:read to
		// see it unmasked.
		return !h.policy.Allowed(p, authz.EnvRead, rack) || !h.policy.Allowed(p, authz.SecretRead, rack)
	case routes.FilterResourceURL:
		return !h.policy.Allowed(p, authz.ResourceCredentials, rack)
	case routes.FilterRegistryPassword:
		return !h.policy.Allowed(p, authz.SecretRead, rack)
	}
	return true
}

// modifyResponse applies the route's filter to a successful JSON response.
// A response that cannot be parsed is withheld rather than passed through.
func (h *Handler) modifyResponse(resp *http.Response) error {
	c := callFrom(resp.Request.Context())
	if c != nil {
		c.watch.headers() // the rack has answered
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if c != nil && c.session != nil {
			if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
				resp.Body = &sessionConn{ReadWriteCloser: rwc, s: c.session}
			}
		}
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized && c != nil && !c.route.Foreign {
		// The gateway always sends the rack password: the rack refused
		// the gateway, not the caller.
		return errRackCredentials
	}
	hardenResponse(resp.Header, c != nil && c.route.Foreign)
	if c != nil && c.grant != nil && c.grant.NeedsResponse() {
		if err := c.grant.Response(resp); err != nil { // the build's id, for the approval
			return err
		}
	}
	if c == nil || !c.filterActive || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFilteredBody+1))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	if len(body) > maxFilteredBody {
		return errFilter
	}
	canEnv := c.principal != nil && h.policy.Allowed(c.principal, authz.EnvRead, c.rack)
	out, err := h.applyFilter(c.route.Filter, body, canEnv)
	if err != nil {
		return errFilter
	}
	if c.route.Filter == routes.FilterReleaseEnv {
		resp.Header.Set(apitypes.HeaderNotice, envNotice(c.principal, c.rack, canEnv))
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Etag")
	return nil
}

// envNotice says why the env in a release answer is missing or masked
// (apitypes.HeaderNotice): without it `convox env get KEY` by a viewer
// reads "env not found: KEY", as if the variable did not exist.
func envNotice(p *authz.Principal, rack string, canEnv bool) string {
	role := "your role"
	if r := roleOn(p, rack); r != "" {
		role = "your role (" + r + ")"
	}
	if !canEnv {
		return "env is hidden from " + role + " on rack " + rack + ": reading env needs " + string(authz.EnvRead) +
			"; a variable shown as not found may exist"
	}
	return "env values are masked for " + role + " on rack " + rack + ": unmasked values need " + string(authz.SecretRead)
}

func roleOn(p *authz.Principal, rack string) string {
	if p == nil {
		return ""
	}
	return p.RoleOn(rack)
}

// errRackCredentials: the rack answered 401 to the gateway's rack password.
var errRackCredentials = errors.New("the rack refused the gateway's rack password")

type filterError struct{}

func (filterError) Error() string { return "response could not be filtered" }

var errFilter error = filterError{}

// applyFilter rewrites a JSON object or array of objects.
func (h *Handler) applyFilter(f routes.Filter, body []byte, canEnv bool) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return body, nil
	}
	var items []map[string]any
	isArray := trimmed[0] == '['
	if isArray {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, err
		}
	} else {
		var one map[string]any
		if err := json.Unmarshal(trimmed, &one); err != nil {
			return nil, err
		}
		items = []map[string]any{one}
	}
	for _, it := range items {
		h.filterItem(f, it, canEnv)
	}
	var out any = items
	if !isArray {
		out = items[0]
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (h *Handler) filterItem(f routes.Filter, it map[string]any, canEnv bool) {
	if it == nil {
		return
	}
	switch f {
	case routes.FilterReleaseEnv:
		if env, ok := it["env"].(string); ok {
			if canEnv {
				it["env"] = h.secrets.MaskEnv(env)
			} else {
				delete(it, "env")
			}
		}
	case routes.FilterResourceURL:
		if u, ok := it["url"].(string); ok {
			it["url"] = secrets.MaskURL(u)
		}
		if params, ok := it["parameters"].(map[string]any); ok {
			for k, v := range params {
				if s, isStr := v.(string); isStr && (h.secrets.IsSecret(k) || strings.Contains(s, "://")) {
					if h.secrets.IsSecret(k) {
						params[k] = secrets.Mask
					} else {
						params[k] = secrets.MaskURL(s)
					}
				}
			}
		}
	case routes.FilterRegistryPassword:
		if _, ok := it["password"]; ok {
			it["password"] = secrets.Mask
		}
	}
}
