package simrack

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// appNameRE is the rack's manifest.NameValidator.
var appNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// view returns the wire form of an app (a deep enough copy to render
// outside the lock).
func (a *appState) view() apiApp {
	v := a.apiApp
	v.Parameters = make(map[string]string, len(a.Parameters))
	for k, p := range a.Parameters {
		v.Parameters[k] = p
	}
	if a.budget != nil {
		b := *a.budget
		v.Budget = &b
	}
	return v
}

func (r *Rack) appList(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		out := make([]apiApp, 0, len(s.apps))
		for _, a := range s.apps {
			out = append(out, a.view())
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}))
}

func (r *Rack) appGet(c *ctx) error {
	return c.json(r.withApp(c.Var("name"), func(a *appState) (any, error) {
		return a.view(), nil
	}))
}

// appCreate is POST /apps (params name, generation, timeout).
func (r *Rack) appCreate(c *ctx) error {
	name := c.Value("name")
	if name == "" {
		return badRequest("name required")
	}
	if !appNameRE.MatchString(name) {
		return badRequest("invalid app name: %s", name)
	}
	gen, ok := c.param("generation")
	if !ok {
		gen = "2" // AppCreateOptions default
	}
	return c.json(r.with(func(s *state) (any, error) {
		if _, exists := s.apps[name]; exists {
			return nil, errorf(http.StatusConflict, "app already exists: %s", name)
		}
		a := newAppState(name, s.domain)
		a.Generation = gen
		s.apps[name] = a
		return a.view(), nil
	}))
}

func (r *Rack) appDelete(c *ctx) error {
	name := c.Var("name")
	return c.ok(r.withApp(name, func(a *appState) (any, error) {
		if a.Locked {
			return nil, errorf(http.StatusConflict, "app is locked: %s", name)
		}
		delete(r.st.apps, name)
		return nil, nil
	}))
}

// appUpdate is PUT /apps/{name} (params lock, parameters).
func (r *Rack) appUpdate(c *ctx) error {
	lock, lockSet := c.param("lock")
	params, err := optMap(c.param("parameters"))
	if err != nil {
		return err
	}
	return c.ok(r.withApp(c.Var("name"), func(a *appState) (any, error) {
		if lockSet {
			a.Locked = lock == "true"
		}
		next := make(map[string]string, len(a.Parameters)+len(params))
		for k, v := range a.Parameters {
			next[k] = v
		}
		for k, v := range params {
			next[k] = v
		}
		a.Parameters = next
		return nil, nil
	}))
}

func (r *Rack) appCancel(c *ctx) error {
	return c.ok(r.withApp(c.Var("name"), func(a *appState) (any, error) {
		a.Status = "running"
		return nil, nil
	}))
}

func (r *Rack) serviceList(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := make([]apiService, 0, len(a.services))
		for _, s := range a.services {
			out = append(out, *s)
		}
		return out, nil
	}))
}

// serviceUpdate is `convox scale`: params count, cpu, memory, gpu, min, max.
func (r *Rack) serviceUpdate(c *ctx) error {
	vals := map[string]*int{}
	for _, k := range []string{"count", "cpu", "memory", "gpu", "min", "max"} {
		v, err := optInt(c.param(k))
		if err != nil {
			return err
		}
		vals[k] = v
	}
	if v := vals["count"]; v != nil && *v < 0 {
		return badRequest("count must be at least 0")
	}
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		s, err := a.service(c.Var("name"))
		if err != nil {
			return nil, err
		}
		for k, dst := range map[string]*int{"count": &s.Count, "cpu": &s.Cpu, "memory": &s.Memory, "gpu": &s.Gpu} {
			if v := vals[k]; v != nil {
				*dst = *v
			}
		}
		if v := vals["min"]; v != nil {
			s.Min = v
		}
		if v := vals["max"]; v != nil {
			s.Max = v
		}
		a.reconcile(r.st.instanceIDs())
		return nil, nil
	}))
}

// serviceRestart restarts a service's processes (their start time resets).
func (r *Rack) serviceRestart(c *ctx) error {
	name := c.Var("name")
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		if _, err := a.service(name); err != nil {
			return nil, err
		}
		now := time.Now().UTC()
		for _, p := range a.processes {
			if p.Name == name && !p.oneoff {
				p.Started = now
			}
		}
		return nil, nil
	}))
}

func (r *Rack) serviceScaleOverride(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "ServiceScaleOverrideSet requires Read+Write role; current role does not include 'w'. Contact rack admin or use a Read+Write or Admin token.")
	}
	active := strings.TrimSpace(c.Value("active"))
	if active == "" {
		return badRequest("active form-param is required (\"true\" or \"false\")")
	}
	if _, err := strconv.ParseBool(active); err != nil {
		return badRequest("active must be \"true\" or \"false\": %v", err)
	}
	return c.ok(r.withService(c, func(*apiService) {}))
}

func (r *Rack) serviceTriggersEnable(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "ServiceTriggersEnable requires Read+Write role; current role does not include 'w'. Contact rack admin or use a Read+Write or Admin token.")
	}
	var opts struct {
		Min      int `json:"min"`
		Max      int `json:"max"`
		Triggers []struct {
			Type      string  `json:"type"`
			Threshold float64 `json:"threshold"`
		} `json:"triggers"`
	}
	if err := json.Unmarshal([]byte(c.Value("opts")), &opts); err != nil {
		return badRequest("invalid opts payload: %s", err.Error())
	}
	return c.ok(r.withService(c, func(s *apiService) { s.Min, s.Max = &opts.Min, &opts.Max }))
}

func (r *Rack) serviceTriggersDisable(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "ServiceTriggersDisable requires Read+Write role; current role does not include 'w'.")
	}
	return c.ok(r.withService(c, func(s *apiService) { s.Min, s.Max = nil, nil }))
}

func (r *Rack) serviceTriggersThreshold(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "ServiceTriggersThresholdSet requires Read+Write role; current role does not include 'w'.")
	}
	v := strings.TrimSpace(c.Value("threshold"))
	if v == "" {
		return badRequest("threshold form-param is required")
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return badRequest("invalid threshold: %s", err.Error())
	}
	return c.ok(r.withService(c, func(*apiService) {}))
}

// withService applies fn under the lock to the route's {app}/{service}.
func (r *Rack) withService(c *ctx, fn func(*apiService)) (any, error) {
	return r.withApp(c.Var("app"), func(a *appState) (any, error) {
		s, err := a.service(c.Var("service"))
		if err != nil {
			return nil, err
		}
		fn(s)
		return nil, nil
	})
}
