package simrack

import (
	"bufio"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// state is the rack's whole in-memory world, guarded by one mutex: the
// simulation is small, and a single lock keeps cross-object updates (a
// build creating a release, a promote touching processes) trivially atomic.
type state struct {
	mu sync.Mutex

	name   string
	domain string // rack domain suffix; the API is "api.<domain>"

	apps         map[string]*appState
	resources    map[string]*resourceState // rack-level resources
	certificates map[string]*apiCertificate
	registries   map[string]*apiRegistry
	instances    map[string]*apiInstance
	system       apiSystem
	letsencrypt  apiLetsEncryptConfig
	events       []event
}

// event is a POST /events record.
type event struct {
	Action string
	Data   map[string]string
	Status string
	Error  string
	At     time.Time
}

// appState is one app and everything that belongs to it.
type appState struct {
	apiApp

	services     []*apiService // sorted by name
	processes    map[string]*procState
	builds       map[string]*buildState
	buildOrder   []string // creation order
	releases     map[string]*apiRelease
	releaseOrder []string // creation order
	objects      map[string]*object
	resources    map[string]*resourceState
	configs      map[string]string // name -> base64 value
	budget       *apiBudget
	budgetState  *apiBudgetState
	files        map[string]map[string][]byte // pid -> path -> content
}

// procState is a process plus simulation-only data.
type procState struct {
	apiProcess
	oneoff bool              // started by `convox run`, not by a service
	env    map[string]string // extra env from the Environment header
}

// resourceState is a resource plus what was imported into it.
type resourceState struct {
	apiResource
	links        []string // apps linked to a rack-level resource
	importBytes  int64
	importSHA256 string
}

// buildState is a build plus its log stream.
type buildState struct {
	apiBuild
	logs    []string
	changed chan struct{} // closed and replaced whenever logs grow or the build ends
	done    bool
}

// manifestService is what the simulation reads out of a convox.yml.
type manifestService struct {
	name string
	port int
}

func (s *state) app(name string) (*appState, error) {
	a, ok := s.apps[name]
	if !ok {
		return nil, notFound("app not found: %s", name)
	}
	return a, nil
}

func (a *appState) service(name string) (*apiService, error) {
	for _, svc := range a.services {
		if svc.Name == name {
			return svc, nil
		}
	}
	return nil, notFound("service not found: %s/%s", a.Name, name)
}

func (a *appState) process(pid string) (*procState, error) {
	p, ok := a.processes[pid]
	if !ok {
		return nil, notFound("process not found: %s", pid)
	}
	return p, nil
}

func (a *appState) build(id string) (*buildState, error) {
	b, ok := a.builds[id]
	if !ok {
		return nil, notFound("build not found: %s", id)
	}
	return b, nil
}

func (a *appState) release(id string) (*apiRelease, error) {
	r, ok := a.releases[id]
	if !ok {
		return nil, notFound("release not found: %s", id)
	}
	return r, nil
}

// latestRelease is the most recently created release, or nil.
func (a *appState) latestRelease() *apiRelease {
	if len(a.releaseOrder) == 0 {
		return nil
	}
	return a.releases[a.releaseOrder[len(a.releaseOrder)-1]]
}

func (a *appState) addRelease(r *apiRelease) {
	a.releases[r.Id] = r
	a.releaseOrder = append(a.releaseOrder, r.Id)
}

func (a *appState) addBuild(b *buildState) {
	a.builds[b.Id] = b
	a.buildOrder = append(a.buildOrder, b.Id)
}

// appendLog adds build output and wakes log streams.
func (b *buildState) appendLog(lines ...string) {
	b.logs = append(b.logs, lines...)
	close(b.changed)
	b.changed = make(chan struct{})
}

// finish marks the build ended and wakes log streams.
func (b *buildState) finish(status string) {
	b.Status = status
	b.Ended = time.Now().UTC()
	b.done = true
	close(b.changed)
	b.changed = make(chan struct{})
}

// setServices replaces the service list from a manifest, keeping the
// scale of services that survive, then reconciles processes.
func (a *appState) setServices(ms []manifestService, domain string) {
	if len(ms) == 0 {
		return
	}
	old := map[string]*apiService{}
	for _, s := range a.services {
		old[s.Name] = s
	}
	var next []*apiService
	for _, m := range ms {
		if s, ok := old[m.name]; ok {
			next = append(next, s)
			continue
		}
		next = append(next, newService(a.Name, m, 1, domain))
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Name < next[j].Name })
	a.services = next
}

func newService(app string, m manifestService, count int, domain string) *apiService {
	s := &apiService{Name: m.name, Count: count, Cpu: 256, Memory: 512, Ports: []apiServicePort{}}
	if m.port > 0 {
		s.Domain = fmt.Sprintf("%s.%s.%s", m.name, app, domain)
		s.Ports = []apiServicePort{{Balancer: 443, Container: m.port}}
	}
	return s
}

// reconcile makes the service processes match the services' counts and
// stamps them with the app's current release. Existing processes keep their
// ids so tests can rely on seeded pids across promotes.
func (a *appState) reconcile(instances []string) {
	want := map[string]*apiService{}
	for _, s := range a.services {
		want[s.Name] = s
	}
	have := map[string][]*procState{}
	for _, p := range a.processes {
		if p.oneoff {
			continue
		}
		if _, ok := want[p.Name]; !ok {
			delete(a.processes, p.Id)
			continue
		}
		have[p.Name] = append(have[p.Name], p)
	}
	for _, s := range a.services {
		ps := have[s.Name]
		sort.Slice(ps, func(i, j int) bool { return ps[i].Started.Before(ps[j].Started) })
		for len(ps) > s.Count {
			delete(a.processes, ps[len(ps)-1].Id)
			ps = ps[:len(ps)-1]
		}
		for len(ps) < s.Count {
			p := a.newProcess(s, podName(s.Name), instances)
			a.processes[p.Id] = p
			ps = append(ps, p)
		}
		for _, p := range ps {
			p.Release = a.Release
		}
	}
}

// newProcess builds a running process of service s.
func (a *appState) newProcess(s *apiService, pid string, instances []string) *procState {
	ports := []string{}
	command := ""
	for _, p := range s.Ports {
		ports = append(ports, strconv.Itoa(p.Container))
	}
	if len(ports) == 0 {
		command = "bin/" + s.Name
	}
	inst := ""
	if len(instances) > 0 {
		inst = instances[rand.IntN(len(instances))]
	}
	return &procState{apiProcess: apiProcess{
		Id:       pid,
		App:      a.Name,
		Command:  command,
		Cpu:      0.05,
		Host:     fmt.Sprintf("10.1.%d.%d", rand.IntN(250)+1, rand.IntN(250)+1),
		Image:    fmt.Sprintf("registry.%s/%s:%s.%s", "simrack.local", a.Name, s.Name, buildOf(a)),
		Instance: inst,
		Memory:   128,
		Name:     s.Name,
		Ports:    ports,
		Release:  a.Release,
		Started:  time.Now().UTC(),
		Status:   "running",
	}}
}

// buildOf returns the build of the app's current release.
func buildOf(a *appState) string {
	if r, ok := a.releases[a.Release]; ok {
		return r.Build
	}
	return ""
}

func (s *state) instanceIDs() []string {
	ids := make([]string, 0, len(s.instances))
	for id := range s.instances {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// upper are the letters of rack ids (structs.id).
const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// podAlphabet is the alphabet of Kubernetes generated name suffixes.
const podAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// newID returns a rack id such as "BABCDEFGHIJ" (prefix + 10 letters).
func newID(prefix string) string { return prefix + randString(upper, 10) }

// podName returns a Deployment-style pod name for a service.
func podName(service string) string {
	return fmt.Sprintf("%s-%s-%s", service, randString(podAlphabet, 10), randString(podAlphabet, 5))
}

// parseEnv reads a dotenv string like structs.Environment.Load.
func parseEnv(data string) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 10*1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k = strings.TrimSpace(k); k != "" {
			env[k] = v
		}
	}
	return env
}

// envDiff describes an env change like common.EnvDiff: " add:A change:B remove:C".
func envDiff(from, to string) string {
	a, b := parseEnv(strings.TrimSpace(from)), parseEnv(strings.TrimSpace(to))
	var adds, changes, removes []string
	for k, v := range b {
		if av, ok := a[k]; !ok {
			adds = append(adds, k)
		} else if av != v {
			changes = append(changes, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			removes = append(removes, k)
		}
	}
	sort.Strings(adds)
	sort.Strings(changes)
	sort.Strings(removes)
	var sb strings.Builder
	for _, k := range adds {
		sb.WriteString(" add:" + k)
	}
	for _, k := range changes {
		sb.WriteString(" change:" + k)
	}
	for _, k := range removes {
		sb.WriteString(" remove:" + k)
	}
	return sb.String()
}

// manifestLine is one line inside a convox.yml's top-level services: map:
// its indentation, the indentation of the service names, and its text
// without surrounding blanks.
type manifestLine struct {
	indent, svcIndent int
	text              string
}

// serviceLines yields the non-blank, non-comment lines inside the
// top-level `services:` map of a convox.yml: the one tiny line scanner (no
// YAML dependency) that parseManifest and parseServiceBuilds share.
func serviceLines(manifest string) iter.Seq[manifestLine] {
	return func(yield func(manifestLine) bool) {
		inServices, svcIndent := false, -1
		for _, line := range strings.Split(manifest, "\n") {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if indent == 0 {
				inServices, svcIndent = trimmed == "services:", -1
				continue
			}
			if !inServices {
				continue
			}
			if svcIndent < 0 {
				svcIndent = indent
			}
			if !yield(manifestLine{indent: indent, svcIndent: svcIndent, text: trimmed}) {
				return
			}
		}
	}
}

// parseManifest extracts service names and ports from a convox.yml: it
// understands the common layout of a `services:` map with `port:` keys.
func parseManifest(manifest string) []manifestService {
	var out []manifestService
	for l := range serviceLines(manifest) {
		switch {
		case l.indent == l.svcIndent && strings.HasSuffix(l.text, ":"):
			out = append(out, manifestService{name: strings.TrimSuffix(l.text, ":")})
		case l.indent > l.svcIndent && len(out) > 0 && strings.HasPrefix(l.text, "port:"):
			v := strings.TrimSpace(strings.TrimPrefix(l.text, "port:"))
			if i := strings.LastIndexByte(v, ':'); i >= 0 {
				v = v[i+1:] // "https:3000"
			}
			if n, err := strconv.Atoi(strings.Trim(v, `"'`)); err == nil {
				out[len(out)-1].port = n
			}
		}
	}
	return out
}

// rejectDotDot refuses path variables with a ".." segment, as the rack's
// handlers do (the router itself never cleans paths).
func rejectDotDot(what, v string) error {
	for _, seg := range strings.Split(v, "/") {
		if seg == ".." {
			return errorf(http.StatusBadRequest, "invalid %s", what)
		}
	}
	return nil
}

// with runs fn under the state lock. fn must return copies, never pointers
// into the state, because rendering happens after the lock is released (so
// a slow client can never stall the rack).
func (r *Rack) with(fn func(s *state) (any, error)) (any, error) {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return fn(r.st)
}

// withApp is with for handlers scoped to one app.
func (r *Rack) withApp(name string, fn func(a *appState) (any, error)) (any, error) {
	return r.with(func(s *state) (any, error) {
		a, err := s.app(name)
		if err != nil {
			return nil, err
		}
		return fn(a)
	})
}
