package proxy

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

// guardReleaseEnv checks a release create that carries an env document:
//   - an env that differs from the base release needs env:set;
//   - a masked value sent back unchanged keeps the base release's value
//     (the caller saw "********" and must not overwrite the secret with it);
//   - adding, changing or removing a protected key needs env:protected.
//
// It rewrites the form body in place and records changed key names (never
// values) in details.
func (h *Handler) guardReleaseEnv(c *call, details map[string]any) *refusal {
	r, form := c.r, c.form
	// The rack reads a parameter from the form body, then the query string,
	// then a header of the same name, and it also parses multipart bodies.
	// Only a urlencoded body is inspected here, so env anywhere else is
	// refused rather than forwarded unchecked.
	if r.URL.Query().Has("env") || r.Header.Get("Env") != "" {
		return refuse(http.StatusBadRequest, authz.ReasonBadRequest,
			"rack-gateway: send env as a form parameter in the request body")
	}
	if form == nil {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
			return refuse(http.StatusUnsupportedMediaType, authz.ReasonBadRequest,
				"rack-gateway: release parameters must be form-encoded (application/x-www-form-urlencoded)")
		}
		return nil // any other body is not read as parameters by the rack
	}
	newRaw, has := form["env"]
	if !has || len(newRaw) == 0 {
		return nil
	}
	app := c.match.App()
	base, err := h.currentEnv(r, c.up, app, form.Get("parent-release"))
	if err != nil {
		h.log.Warn("env guard: cannot read current env", "app", app, "err", err)
		return refuse(http.StatusBadGateway, authz.ReasonUpstreamError,
			"rack-gateway: cannot read the app's current env from the rack; try again")
	}
	next := secrets.ParseEnv(newRaw[0])
	for _, k := range next.Keys {
		if next.Values[k] != secrets.Mask {
			continue
		}
		old, ok := base.Values[k]
		if !ok {
			return refuse(http.StatusBadRequest, authz.ReasonBadRequest,
				fmt.Sprintf("rack-gateway: %s has the masked placeholder %s as its value but no previous value; set a real value", k, secrets.Mask))
		}
		next.Values[k] = old
	}
	change := secrets.Diff(base, next)
	details["env_keys_added"] = change.Added
	details["env_keys_changed"] = change.Changed
	details["env_keys_removed"] = change.Removed
	if h.valueHash != nil {
		// Keyed hashes, never values, of what was set (audit check-value).
		hashes := map[string]string{}
		for _, k := range append(append([]string{}, change.Added...), change.Changed...) {
			hashes[k] = h.valueHash(k, next.Values[k])
		}
		if len(hashes) > 0 {
			details["env_value_hashes"] = hashes
		}
	}
	if !change.Empty() {
		q := authz.Request{Principal: c.principal, Permission: authz.EnvSet, Rack: c.rack, App: app, Now: c.start}
		if d := h.policy.Decide(q); !d.Allow {
			if d.Reason == authz.ReasonStepUpRequired {
				return stepUpRefusal(d, c.route)
			}
			return refuse(http.StatusForbidden, d.Reason, denyMessage(d, c.route))
		}
		for _, k := range change.Keys() {
			if h.secrets.IsProtected(k) {
				q.Permission = authz.EnvProtected
				if d := h.policy.Decide(q); !d.Allow {
					if d.Reason == authz.ReasonStepUpRequired {
						return stepUpRefusal(d, c.route)
					}
					return refuse(http.StatusForbidden, authz.ReasonProtectedEnvKey,
						fmt.Sprintf("rack-gateway: permission denied: %s is a protected env key; only an admin can change it", k))
				}
			}
		}
	}
	form.Set("env", next.String())
	setBody(r, []byte(form.Encode()))
	return nil
}

// currentEnv reads the env of the given release, or of the app's current
// release, straight from the rack.
func (h *Handler) currentEnv(r *http.Request, up *Upstream, app, releaseID string) (secrets.Env, error) {
	if releaseID == "" {
		body, status, err := up.get(r, "/apps/"+url.PathEscape(app))
		if err != nil {
			return secrets.Env{}, err
		}
		if status != http.StatusOK {
			return secrets.Env{}, fmt.Errorf("app lookup: status %d", status)
		}
		var a struct {
			Release string `json:"release"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return secrets.Env{}, err
		}
		if a.Release == "" {
			return secrets.ParseEnv(""), nil // a new app has no env yet
		}
		releaseID = a.Release
	}
	body, status, err := up.get(r, "/apps/"+url.PathEscape(app)+"/releases/"+url.PathEscape(releaseID))
	if err != nil {
		return secrets.Env{}, err
	}
	if status != http.StatusOK {
		return secrets.Env{}, fmt.Errorf("release lookup: status %d", status)
	}
	var rel struct {
		Env string `json:"env"`
	}
	if err := json.Unmarshal(body, &rel); err != nil {
		return secrets.Env{}, err
	}
	return secrets.ParseEnv(rel.Env), nil
}
