package main

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// The population the generator draws from: ~200 people and 30 CI tokens
// working on 50 apps spread over 3 racks, calling the real route table.

var racks = []string{"prod", "staging", "eu-prod"}

var appWords = []string{"billing", "checkout", "search", "auth", "catalog", "orders", "payments", "mailer",
	"reports", "images", "api", "web", "worker", "admin", "ledger", "pricing", "inventory", "shipping",
	"notify", "analytics", "gateway", "profile", "cart", "recs", "media"}

var firstNames = []string{"ada", "alan", "barbara", "claude", "dennis", "edsger", "frances", "grace", "ken",
	"linus", "margaret", "niklaus", "radia", "rob", "sophie", "tim", "whitfield", "yukihiro", "leslie", "donald"}

var lastNames = []string{"lovelace", "turing", "liskov", "shannon", "ritchie", "dijkstra", "allen", "hopper",
	"thompson", "torvalds"}

var userAgents = []string{"convox/3.19.7 (linux/amd64)", "convox/3.21.2 (darwin/arm64)", "convox/3.18.1 (linux/amd64)",
	"rack-gateway/1.4.0 (convox 3.21.2)", "Go-http-client/1.1"}

// actor is one principal.
type actor struct {
	typ, name, role, ip, ua string
	id, tokenID             int64
	apps                    []int // the apps a token deploys
}

// app is one app on one rack.
type app struct{ name, rack string }

// weighted picks indexes by weight.
type weighted struct {
	cum []float64
}

func newWeighted(w []float64) weighted {
	cum := make([]float64, len(w))
	var s float64
	for i, x := range w {
		s += x
		cum[i] = s
	}
	return weighted{cum: cum}
}

func (w weighted) pick(r *rand.Rand) int {
	x := r.Float64() * w.cum[len(w.cum)-1]
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if w.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// personWeights and ciWeights are how often each route is called by a
// person and by CI; routes not named get rareWeight.
var personWeights = map[string]float64{
	"AppList": 8, "AppGet": 6, "ProcessList": 10, "AppLogs": 6, "ReleaseList": 5, "BuildList": 5,
	"ServiceList": 4, "SystemGet": 6, "Auth": 3, "Check": 1, "ProcessExec": 2, "ProcessRun": 1,
	"ReleaseGet": 2, "BuildGet": 2, "BuildLogs": 2, "ReleaseCreate": 1, "ReleasePromote": 0.8,
	"ServiceUpdate": 0.5, "ProcessStop": 0.3, "InstanceList": 1, "ResourceList": 1, "AppMetrics": 1,
	"ProcessLogs": 1, "ServiceLogs": 1, "SystemLogs": 0.5, "ServiceRestart": 0.3, "RegistryList": 0.2,
	"SystemProcesses": 0.5, "SystemReleases": 0.3, "CertificateList": 0.2, "SystemResourceList": 0.2,
}

var ciWeights = map[string]float64{
	"AppGet": 4, "ObjectStore": 3, "BuildCreate": 3, "BuildGet": 6, "BuildLogs": 3, "ReleaseGet": 3,
	"ReleasePromote": 2, "ReleaseList": 1, "ProcessList": 2, "Auth": 2, "SystemGet": 2, "ProcessRun": 0.5,
}

const rareWeight = 0.02

// denial is a refusal reason with its HTTP status and relative weight.
type denial struct {
	reason authz.Reason
	status int
	weight float64
}

var denials = []denial{
	{authz.ReasonMissingPermission, http.StatusForbidden, 55},
	{authz.ReasonTokenScope, http.StatusForbidden, 8},
	{authz.ReasonUnauthenticated, http.StatusUnauthorized, 10},
	{authz.ReasonInvalidCredential, http.StatusUnauthorized, 8},
	{authz.ReasonSessionExpired, http.StatusUnauthorized, 6},
	{authz.ReasonStepUpRequired, http.StatusForbidden, 4},
	{authz.ReasonProtectedEnvKey, http.StatusForbidden, 3},
	{authz.ReasonApprovalRequired, http.StatusForbidden, 3},
	{authz.ReasonRateLimited, http.StatusTooManyRequests, 2},
	{authz.ReasonTokenRevoked, http.StatusUnauthorized, 1},
}

// model generates events in time order.
type model struct {
	r        *rand.Rand
	hmacKey  []byte
	apps     []app
	actors   []actor
	actorW   weighted
	routes   []routes.Route
	personW  weighted
	ciW      weighted
	denialW  weighted
	denyRate float64
	t        time.Time // the time of the last event
	end      time.Time // the time of the newest event
	left     int64     // events still to make
	pending  []*chain.Event
}

func newModel(seed uint64, hmacKey []byte, start time.Time, span time.Duration, n int64) *model {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := &model{r: r, hmacKey: hmacKey, t: start, end: start.Add(span), left: n, denyRate: 0.03}
	for i := range 50 {
		name := appWords[i%len(appWords)]
		if i >= len(appWords) {
			name += "-v2"
		}
		m.apps = append(m.apps, app{name: name, rack: racks[[]int{0, 0, 1, 2}[i%4]]})
	}
	roles := []string{"viewer", "deployer", "deployer", "ops", "deployer", "viewer", "ops", "admin"}
	var aw []float64
	for i := range 200 {
		f, l := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
		m.actors = append(m.actors, actor{typ: "user", name: fmt.Sprintf("%s.%s@example.com", f, l),
			role: roles[i%len(roles)], id: int64(i + 1), ip: fmt.Sprintf("10.%d.%d.%d", 20+i%3, i/250, i%250+1),
			ua: userAgents[i%3]})
		aw = append(aw, 1/float64(i%97+1)) // a few people do most of the work
	}
	for i := range 30 {
		a := m.apps[(i*7)%len(m.apps)]
		m.actors = append(m.actors, actor{typ: "token", name: "token:ci-" + a.name + "-" + a.rack, role: "deployer",
			id: int64(1 + i%10), tokenID: int64(i + 1), ip: fmt.Sprintf("172.31.%d.%d", i/8, 10+i),
			ua: "convox/3.21.2 (linux/amd64)", apps: []int{(i * 7) % len(m.apps)}})
		aw = append(aw, 0.25) // CI: about a third of the calls
	}
	m.actorW = newWeighted(aw)
	m.routes = routes.Table()
	pw, cw := make([]float64, len(m.routes)), make([]float64, len(m.routes))
	for i, rt := range m.routes {
		pw[i], cw[i] = rareWeight, rareWeight/10
		if w, ok := personWeights[rt.Name]; ok {
			pw[i] = w
		}
		if w, ok := ciWeights[rt.Name]; ok {
			cw[i] = w
		}
	}
	m.personW, m.ciW = newWeighted(pw), newWeighted(cw)
	dw := make([]float64, len(denials))
	for i, d := range denials {
		dw[i] = d.weight
	}
	m.denialW = newWeighted(dw)
	return m
}

// next returns the next event.
func (m *model) next() *chain.Event {
	m.left--
	if len(m.pending) > 0 {
		e := m.pending[0]
		m.pending = m.pending[1:]
		return e
	}
	// Exponential gaps (bursts and lulls, always in time order) whose mean
	// spreads the remaining events over the remaining span.
	step := float64(m.end.Sub(m.t)) / float64(max(m.left+1, 1))
	m.t = m.t.Add(time.Duration(m.r.ExpFloat64() * max(step, 0)))
	a := &m.actors[m.actorW.pick(m.r)]
	var rt *routes.Route
	if a.typ == "token" {
		rt = &m.routes[m.ciW.pick(m.r)]
	} else {
		rt = &m.routes[m.personW.pick(m.r)]
	}
	ap := m.apps[m.r.IntN(len(m.apps))]
	if len(a.apps) > 0 {
		ap = m.apps[a.apps[0]]
	}
	path, appName, resource := m.fill(rt, ap.name)
	e := &chain.Event{
		Time: m.t, RequestID: m.requestID(), Rack: ap.rack, ActorType: a.typ, Actor: a.name, ActorID: a.id,
		TokenID: a.tokenID, Role: a.role, SourceIP: a.ip, UserAgent: a.ua, Method: rt.Method, Path: path,
		Route: rt.Name, Action: rt.Name, App: appName, Resource: resource, Permission: string(rt.Permission),
	}
	if rt.Public {
		e.Permission = ""
	}
	if m.r.Float64() < m.denyRate {
		d := denials[m.denialW.pick(m.r)]
		e.Decision, e.Reason, e.Status = "deny", string(d.reason), d.status
		e.DurationUS = 200 + m.r.Int64N(2000)
		if d.reason == authz.ReasonUnauthenticated || d.reason == authz.ReasonInvalidCredential {
			e.ActorType, e.Actor, e.ActorID, e.TokenID, e.Role = "anonymous", "anonymous", 0, 0, ""
		}
		return e
	}
	e.Decision, e.Reason = "allow", string(authz.ReasonAllowed)
	if rt.Public {
		e.Reason = string(authz.ReasonPublic)
	}
	details := m.details(rt)
	e.DurationUS = 2000 + m.r.Int64N(200000)
	switch {
	case rt.Websocket:
		e.Status = http.StatusSwitchingProtocols
		e.DurationUS = 1e6 + m.r.Int64N(600e6)
		s := map[string]any{"duration_ms": e.DurationUS / 1000, "bytes_in": m.r.Int64N(1 << 12), "bytes_out": m.r.Int64N(1 << 22)}
		if rt.Name == "ProcessExec" || rt.Name == "ProcessRun" || rt.Name == "InstanceShell" {
			s["exit_code"] = []int{0, 0, 0, 1, 130}[m.r.IntN(5)]
		}
		details = merge(details, map[string]any{"session": s})
	case m.r.IntN(100) == 0:
		e.Status = []int{404, 500, 502}[m.r.IntN(3)]
	case rt.Method == http.MethodPost:
		e.Status = http.StatusCreated
	default:
		e.Status = http.StatusOK
	}
	if rt.Mutating && !rt.Websocket {
		// A mutating call is recorded before it is forwarded (the
		// write-ahead attempt) and again with its outcome.
		attempt := *e
		attempt.Status, attempt.DurationUS = 0, 0
		attempt.Details = audit.Details(audit.WithPhase(details, "attempt"))
		e.Details = audit.Details(audit.WithPhase(details, "outcome"))
		e.Time = e.Time.Add(time.Duration(e.DurationUS) * time.Microsecond)
		m.t = e.Time
		m.pending = append(m.pending, e)
		return &attempt
	}
	e.Details = audit.Details(details)
	return e
}

func merge(a, b map[string]any) map[string]any {
	if a == nil {
		return b
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}

// details are what the proxy records for the route: its allow-listed
// parameters and, for an environment change, the keys and value hashes.
func (m *model) details(rt *routes.Route) map[string]any {
	var d map[string]any
	if len(rt.AuditParams) > 0 && m.r.IntN(2) == 0 {
		ps := map[string]string{}
		for _, p := range rt.AuditParams {
			switch p {
			case "follow":
				ps[p] = "true"
			case "since":
				ps[p] = []string{"1m", "10m", "1h"}[m.r.IntN(3)]
			case "tail":
				ps[p] = "100"
			}
		}
		if len(ps) > 0 {
			d = map[string]any{"params": ps}
		}
	}
	if rt.Name == "ReleaseCreate" {
		keys := []string{"DATABASE_URL", "LOG_LEVEL", "FEATURE_FLAGS", "WORKERS", "API_KEY"}
		k := keys[m.r.IntN(len(keys))]
		d = merge(d, map[string]any{"env_keys_added": []string{}, "env_keys_changed": []string{k}, "env_keys_removed": []string{},
			"env_value_hashes": map[string]string{k: audit.ValueHash(m.hmacKey, k, fmt.Sprint(m.r.Uint32()))}})
	}
	return d
}

// fill substitutes realistic values for the route's parameters.
func (m *model) fill(rt *routes.Route, appName string) (path, app, resource string) {
	segs := strings.Split(rt.Path, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		name, suffix, _ := strings.Cut(strings.TrimPrefix(s, "{"), "}")
		name = strings.TrimSuffix(name, "...")
		var v string
		switch name {
		case "app":
			v, app = appName, appName
		case "pid":
			v = fmt.Sprintf("web-%08x-%05x", m.r.Uint32(), m.r.IntN(1<<20))
		case "id":
			v = fmt.Sprintf("B%09X", m.r.Uint64()>>28)
		case "service":
			v = []string{"web", "worker", "scheduler"}[m.r.IntN(3)]
		case "name":
			v = []string{"database", "cache", "queue"}[m.r.IntN(3)]
		case "key":
			v = fmt.Sprintf("tmp/%016x.tgz", m.r.Uint64())
		default:
			v = fmt.Sprintf("%s-%d", name, m.r.IntN(100))
		}
		segs[i] = v + suffix
		if name != "app" {
			resource = v
		}
	}
	return strings.Join(segs, "/"), app, resource
}

// requestID is shaped like audit.NewRequestID's, from the seeded source.
func (m *model) requestID() string {
	var b [12]byte
	for i := range b {
		b[i] = byte(m.r.Uint32())
	}
	return hex.EncodeToString(b[:])
}
