package simrack

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// --- events -----------------------------------------------------------------

// eventSend is POST /events (params action, data, status, error).
func (r *Rack) eventSend(c *ctx) error {
	data, err := optMap(c.param("data"))
	if err != nil {
		return err
	}
	status, _ := c.param("status")
	msg, _ := c.param("error")
	ev := event{Action: c.Value("action"), Data: data, Status: status, Error: msg, At: time.Now().UTC()}
	return c.ok(r.with(func(s *state) (any, error) {
		s.events = append(s.events, ev)
		return nil, nil
	}))
}

// --- balancers --------------------------------------------------------------

// balancerList derives one balancer per service that exposes a port.
func (r *Rack) balancerList(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := []apiBalancer{}
		for _, s := range a.services {
			if len(s.Ports) == 0 {
				continue
			}
			b := apiBalancer{Name: s.Name, Endpoint: s.Domain, Service: s.Name}
			for _, p := range s.Ports {
				b.Ports = append(b.Ports, apiBalancerPort{Protocol: "https", Source: p.Balancer, Target: p.Container})
			}
			out = append(out, b)
		}
		return out, nil
	}))
}

// --- app configs ------------------------------------------------------------

func (r *Rack) appConfigList(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := make([]apiAppConfig, 0, len(a.configs))
		for n, v := range a.configs {
			out = append(out, apiAppConfig{Name: n, Value: v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}))
}

func (r *Rack) appConfigGet(c *ctx) error {
	name := c.Var("name")
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		v, ok := a.configs[name]
		if !ok {
			return nil, notFound("config not found: %s", name)
		}
		return apiAppConfig{Name: name, Value: v}, nil
	}))
}

// appConfigSet is PUT /apps/{app}/configs/{name} (param value, base64).
func (r *Rack) appConfigSet(c *ctx) error {
	value := c.Value("value")
	if _, err := base64.StdEncoding.DecodeString(value); err != nil {
		return badRequest("failed to parse base 64 value: %s", err)
	}
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		a.configs[c.Var("name")] = value
		return nil, nil
	}))
}

// --- budget -----------------------------------------------------------------

func (r *Rack) appBudgetGet(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := map[string]any{"config": nil, "state": nil}
		if a.budget != nil {
			b := *a.budget
			out["config"] = &b
		}
		if a.budgetState != nil {
			st := *a.budgetState
			out["state"] = &st
		}
		return out, nil
	}))
}

// appBudgetSet is POST /apps/{app}/budget; changing the cap, the at-cap
// action or the pricing adjustment needs admin, like the rack.
func (r *Rack) appBudgetSet(c *ctx) error {
	capV, hasCap := c.param("monthly-cap-usd")
	actionV, hasAction := c.param("at-cap-action")
	pricingV, hasPricing := c.param("pricing-adjustment")
	alert, err := optInt(c.param("alert-threshold-percent"))
	if err != nil {
		return err
	}
	if (hasCap || hasAction || hasPricing) && !c.canAdmin() {
		return errorf(http.StatusForbidden, "AppBudgetSet: admin role required to set budget cap")
	}
	parse := func(name, v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, badRequest("%s must be a number: %v", name, err)
		}
		return f, nil
	}
	actor := c.actor()
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		b := apiBudget{AlertThresholdPercent: 80, AtCapAction: "alert-only", PricingAdjustment: 1}
		if a.budget != nil {
			b = *a.budget
		}
		if hasCap {
			f, err := parse("monthly-cap-usd", capV)
			if err != nil {
				return nil, err
			}
			if f <= 0 {
				return nil, badRequest("monthly-cap-usd must be > 0")
			}
			b.MonthlyCapUsd = f
			b.LastCapMutationBy = actor
		}
		if hasPricing {
			f, err := parse("pricing-adjustment", pricingV)
			if err != nil {
				return nil, err
			}
			b.PricingAdjustment = f
		}
		if hasAction {
			switch actionV {
			case "alert-only", "block-new-deploys", "auto-shutdown":
			default:
				return nil, badRequest(`at-cap-action must be "alert-only", "block-new-deploys", or "auto-shutdown"`)
			}
			b.AtCapAction = actionV
		}
		if alert != nil {
			b.AlertThresholdPercent = float64(*alert)
		}
		if b.MonthlyCapUsd <= 0 {
			return nil, badRequest("monthly-cap-usd must be > 0")
		}
		a.budget = &b
		if a.budgetState == nil {
			now := time.Now().UTC()
			a.budgetState = &apiBudgetState{
				MonthStart:           time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC),
				CurrentMonthSpendUsd: 12.34, CurrentMonthSpendAsOf: now,
			}
		}
		return nil, nil
	}))
}

func (r *Rack) appBudgetClear(c *ctx) error {
	if !c.canAdmin() {
		return errorf(http.StatusForbidden, "AppBudgetClear: admin role required to remove budget config")
	}
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		a.budget, a.budgetState = nil, nil
		return nil, nil
	}))
}

func (r *Rack) appBudgetReset(c *ctx) error {
	if c.Value("force_clear_cooldown") == "true" && !c.canAdmin() {
		return errorf(http.StatusForbidden, "AppBudgetReset --force-clear-cooldown requires Admin role; current role is 'w'. Contact rack admin or use Admin token.")
	}
	actor := c.actor()
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		if a.budget == nil {
			return nil, badRequest("no budget configured for app %s", a.Name)
		}
		if a.budgetState != nil {
			st := *a.budgetState
			st.CircuitBreakerTripped = false
			st.CircuitBreakerAckBy = actor
			a.budgetState = &st
		}
		return nil, nil
	}))
}

func (r *Rack) appBudgetShutdownState(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(*appState) (any, error) {
		return nil, notFound("state not found")
	}))
}

func (r *Rack) appBudgetSimulate(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		type eligibility struct {
			Service        string  `json:"service"`
			Eligible       bool    `json:"eligible"`
			Replicas       int     `json:"replicas"`
			CostUsdPerHour float64 `json:"cost-usd-per-hour"`
		}
		action := "alert-only"
		if a.budget != nil {
			action = a.budget.AtCapAction
		}
		var el []eligibility
		var names []string
		total := 0.0
		for _, s := range a.services {
			cost := 0.02 * float64(s.Count)
			el = append(el, eligibility{Service: s.Name, Eligible: true, Replicas: s.Count, CostUsdPerHour: cost})
			names = append(names, s.Name)
			total += cost
		}
		return map[string]any{
			"app": a.Name, "at-cap-action": action, "webhook-url": "",
			"notify-before-minutes": 30, "shutdown-grace-period": "5m",
			"shutdown-order": "largest-cost", "recovery-mode": "auto-on-reset",
			"eligibility": el, "would-shut-down-services": names,
			"would-shut-down-count": len(names), "estimated-cost-saved-usd-per-hour": total,
			"simulated-at": time.Now().UTC(),
		}, nil
	}))
}

func (r *Rack) appBudgetDismissRecovery(c *ctx) error {
	actor := c.actor()
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		return map[string]any{"app": a.Name, "dismissed": true, "ack-by": actor}, nil
	}))
}

// --- cost, metrics, diagnose, manifest -------------------------------------

func (r *Rack) appCost(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		now := time.Now().UTC()
		v := apiAppCost{
			App: a.Name, MonthStart: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), AsOf: now,
			Breakdown: []apiServiceCostLine{}, PricingSource: "simrack", PricingTableVersion: "2026-01", PricingAdjustment: 1,
		}
		for _, s := range a.services {
			line := apiServiceCostLine{Service: s.Name, CpuHours: 0.25 * float64(s.Count) * 24, MemGbHours: 0.5 * float64(s.Count) * 24}
			line.SpendUsd = line.CpuHours*0.04 + line.MemGbHours*0.005
			v.SpendUsd += line.SpendUsd
			v.Breakdown = append(v.Breakdown, line)
		}
		return v, nil
	}))
}

func (r *Rack) appMetrics(c *ctx) error {
	return c.json(r.withApp(c.Var("name"), func(*appState) (any, error) {
		return sampleMetrics("cpu", "mem", "process-running"), nil
	}))
}

func (r *Rack) metricsByService(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		type row struct {
			Name    string      `json:"name"`
			Metrics []apiMetric `json:"metrics"`
		}
		out := []row{}
		for _, s := range a.services {
			out = append(out, row{Name: s.Name, Metrics: sampleMetrics("cpu", "mem")})
		}
		return out, nil
	}))
}

func (r *Rack) serviceMetrics(c *ctx) error {
	if !appNameRE.MatchString(c.Var("app")) || !appNameRE.MatchString(c.Var("service")) {
		return badRequest("metrics: invalid name")
	}
	if _, err := r.withService(c, func(*apiService) {}); err != nil {
		return err
	}
	return c.renderJSON(sampleMetrics("gpu-util", "gpu-mem-used"))
}

func (r *Rack) appDiagnose(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		a, err := s.app(c.Var("app"))
		if err != nil {
			return nil, err
		}
		type svcStatus struct {
			Name            string `json:"name"`
			DesiredReplicas int    `json:"desiredReplicas"`
			ReadyReplicas   int    `json:"readyReplicas"`
			UpdatedReplicas int    `json:"updatedReplicas"`
			Status          string `json:"status"`
		}
		type pod struct {
			Name           string `json:"name"`
			Service        string `json:"service"`
			Phase          string `json:"phase"`
			Ready          string `json:"ready"`
			AgeSeconds     int    `json:"ageSeconds"`
			Restarts       int    `json:"restarts"`
			Classification string `json:"classification"`
		}
		var svcs []svcStatus
		for _, sv := range a.services {
			svcs = append(svcs, svcStatus{Name: sv.Name, DesiredReplicas: sv.Count, ReadyReplicas: sv.Count, UpdatedReplicas: sv.Count, Status: "healthy"})
		}
		var pods []pod
		for _, p := range a.processes {
			pods = append(pods, pod{Name: p.Id, Service: p.Name, Phase: "Running", Ready: "1/1",
				AgeSeconds: int(time.Since(p.Started).Seconds()), Classification: "healthy"})
		}
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		return map[string]any{
			"namespace": s.name + "-" + a.Name, "rack": s.name, "app": a.Name, "timestamp": time.Now().UTC(),
			"overview": map[string]any{"services": svcs},
			"pods":     pods,
			"summary":  map[string]int{"total": len(pods), "unhealthy": 0, "notReady": 0, "new": 0, "healthy": len(pods)},
		}, nil
	}))
}

// appManifestService returns a service's manifest entry from the current
// release: name, environment keys, scale.
func (r *Rack) appManifestService(c *ctx) error {
	service := c.Var("service")
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		rel, ok := a.releases[a.Release]
		if !ok {
			return nil, notFound("no release for app %s", a.Name)
		}
		for _, m := range parseManifest(rel.Manifest) {
			if m.name != service {
				continue
			}
			out := apiManifestService{Name: service}
			for k := range parseEnv(rel.Env) {
				out.Environment = append(out.Environment, k)
			}
			sort.Strings(out.Environment)
			if s, err := a.service(service); err == nil && (s.Min != nil || s.Max != nil) {
				out.Scale = &apiManifestServiceScale{Min: s.Min, Max: s.Max}
			}
			return out, nil
		}
		return nil, notFound("service not found: %s", service)
	}))
}

// --- letsencrypt --------------------------------------------------------------

func (r *Rack) letsEncryptConfigGet(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		v := s.letsencrypt
		v.Solvers = append([]*apiDNS01Solver(nil), s.letsencrypt.Solvers...)
		if v.Solvers == nil {
			v.Solvers = []*apiDNS01Solver{}
		}
		return v, nil
	}))
}

// letsEncryptConfigApply is PUT /letsencrypt/config with a JSON body.
func (r *Rack) letsEncryptConfigApply(c *ctx) error {
	var cfg apiLetsEncryptConfig
	if err := json.NewDecoder(c.r.Body).Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for _, s := range cfg.Solvers {
		if s == nil || len(s.DnsZones) == 0 {
			return badRequest("dns zones are required")
		}
	}
	return c.ok(r.with(func(s *state) (any, error) {
		s.letsencrypt.Solvers = cfg.Solvers
		if cfg.Role != "" {
			s.letsencrypt.Role = cfg.Role
		}
		return nil, nil
	}))
}

// --- HTTP service proxy and registry proxy -----------------------------------

// proxyHTTPService is ANY /custom/http/proxy/{path:.*}: the rack reverse
// proxies to X-Host:X-Port inside the cluster. The simulation answers with a
// description of the request it would have proxied.
func (r *Rack) proxyHTTPService(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "proxy requires write access")
	}
	host := strings.ToLower(strings.TrimSpace(c.r.Header.Get("X-Host")))
	if !allowedProxyHost(host) {
		return badRequest("invalid proxy host")
	}
	port, err := strconv.Atoi(c.r.Header.Get("X-Port"))
	if err != nil || port < 1 || port > 65535 {
		return badRequest("invalid proxy port")
	}
	n, _ := io.Copy(io.Discard, c.r.Body)
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = io.WriteString(c.w, "simrack proxied "+c.r.Method+" /"+c.Var("path")+" to "+host+":"+strconv.Itoa(port)+" ("+strconv.FormatInt(n, 10)+" bytes)\n")
	return err
}

// registryProxy is ANY /v2/{path:.*}, the Docker Registry v2 API: the base
// endpoint answers, everything else is an unknown repository.
func (r *Rack) registryProxy(c *ctx) error {
	c.w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	c.w.Header().Set("Content-Type", "application/json")
	if c.Var("path") == "" {
		_, err := io.WriteString(c.w, "{}\n")
		return err
	}
	c.w.WriteHeader(http.StatusNotFound)
	_, err := io.WriteString(c.w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`+"\n")
	return err
}
