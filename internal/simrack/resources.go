package simrack

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// resourceTypes are the rack-level resource kinds (OPTIONS /resources).
var resourceTypes = []apiResourceType{
	{Name: "mariadb", Parameters: []apiResourceParameter{{Default: "10.6", Description: "engine version", Name: "version"}}},
	{Name: "memcached", Parameters: []apiResourceParameter{{Default: "1.6", Description: "engine version", Name: "version"}}},
	{Name: "mysql", Parameters: []apiResourceParameter{{Default: "8.0", Description: "engine version", Name: "version"}}},
	{Name: "postgres", Parameters: []apiResourceParameter{{Default: "13", Description: "engine version", Name: "version"}, {Default: "10", Description: "storage in GB", Name: "storage"}}},
	{Name: "redis", Parameters: []apiResourceParameter{{Default: "6.2", Description: "engine version", Name: "version"}}},
}

// dumpable reports the kinds that support data export/import.
func dumpable(kind string) bool {
	return kind == "postgres" || kind == "mysql" || kind == "mariadb"
}

// view copies a resource for rendering, with linked apps for rack-level ones.
func (rs *resourceState) view(s *state) apiResource {
	v := rs.apiResource
	v.Parameters = make(map[string]string, len(rs.Parameters))
	for k, p := range rs.Parameters {
		v.Parameters[k] = p
	}
	v.Apps = nil
	for _, name := range rs.links {
		if a, ok := s.apps[name]; ok {
			v.Apps = append(v.Apps, a.view())
		}
	}
	return v
}

func (a *appState) resource(name string) (*resourceState, error) {
	rs, ok := a.resources[name]
	if !ok {
		return nil, notFound("resource not found: %s", name)
	}
	return rs, nil
}

// resourceList is GET /apps/{app}/resources; `url` holds credentials.
func (r *Rack) resourceList(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := make([]apiResource, 0, len(a.resources))
		for _, rs := range a.resources {
			out = append(out, rs.view(r.st))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}))
}

func (r *Rack) resourceGet(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		rs, err := a.resource(c.Var("name"))
		if err != nil {
			return nil, err
		}
		return rs.view(r.st), nil
	}))
}

// appResourceType returns the kind of an app resource (under the lock).
func (r *Rack) appResourceType(app, name string) (string, error) {
	v, err := r.withApp(app, func(a *appState) (any, error) {
		rs, err := a.resource(name)
		if err != nil {
			return nil, err
		}
		return rs.Type, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// resourceExport streams a fake database dump (read role is enough on a
// real rack, although it is the app's data).
func (r *Rack) resourceExport(c *ctx) error {
	app, name := c.Var("app"), c.Var("name")
	v, err := r.withApp(app, func(a *appState) (any, error) {
		rs, err := a.resource(name)
		if err != nil {
			return nil, err
		}
		return *rs, nil
	})
	if err != nil {
		return err
	}
	rs := v.(resourceState)
	if !dumpable(rs.Type) {
		return badRequest("export not available for resources of type: %s", rs.Type)
	}
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "-- %s database dump of %s/%s (simrack)\n", rs.Type, app, name)
	if rs.importBytes > 0 {
		fmt.Fprintf(w, "-- restored from import of %d bytes sha256:%s\n", rs.importBytes, rs.importSHA256)
	}
	fmt.Fprintln(w, "CREATE TABLE users (id integer PRIMARY KEY, email text, password_digest text);")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(w, "INSERT INTO users VALUES (%d, 'user%d@example.com', '$2a$12$simulatedhash%04d');\n", i, i, i)
	}
	fmt.Fprintln(w, "-- dump complete")
	return w.Flush()
}

// resourceImport is PUT …/resources/{name}/data: a streamed dump that is
// counted and hashed, never buffered.
func (r *Rack) resourceImport(c *ctx) error {
	app, name := c.Var("app"), c.Var("name")
	kind, err := r.appResourceType(app, name)
	if err != nil {
		return err
	}
	if !dumpable(kind) {
		return badRequest("import not available for resources of type: %s", kind)
	}
	o, err := consume(c.r.Body)
	if err != nil {
		return err
	}
	return c.ok(r.withApp(app, func(a *appState) (any, error) {
		rs, err := a.resource(name)
		if err != nil {
			return nil, err
		}
		rs.importBytes, rs.importSHA256 = o.size, o.sha256
		return nil, nil
	}))
}

// resourceConsole is the DB shell socket (write role): a prompt that
// answers each line until `\q`, `exit` or the client's EOF.
func (r *Rack) resourceConsole(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "resource console requires write access")
	}
	app, name := c.Var("app"), c.Var("name")
	kind, err := r.appResourceType(app, name)
	if err != nil {
		return err
	}
	switch kind {
	case "postgres", "mysql", "mariadb", "redis":
	default:
		return badRequest("console not available for resources of type: %s", kind)
	}
	out := &ttyWriter{ws: c.ws, tty: true}
	in := bufio.NewReader(&stdin{ws: c.ws})
	prompt := name + "=> "
	fmt.Fprintf(out, "%s console for %s/%s (simrack)\n", kind, app, name)
	for {
		fmt.Fprint(out, prompt)
		line, err := in.ReadString('\n')
		cmd := strings.TrimSpace(line)
		switch {
		case cmd == `\q` || cmd == "exit" || cmd == "quit":
			return nil
		case cmd != "":
			fmt.Fprintf(out, "%s\n", consoleAnswer(kind, cmd))
		}
		if err != nil {
			return nil
		}
	}
}

func consoleAnswer(kind, cmd string) string {
	if kind == "redis" {
		if strings.EqualFold(cmd, "ping") {
			return "PONG"
		}
		return "OK"
	}
	if strings.HasPrefix(strings.ToLower(cmd), "select 1") {
		return " ?column? \n----------\n        1\n(1 row)\n"
	}
	return "OK: " + cmd
}

func (s *state) rackResource(name string) (*resourceState, error) {
	rs, ok := s.resources[name]
	if !ok {
		return nil, notFound("no such resource: %s", name)
	}
	return rs, nil
}

func (r *Rack) systemResourceList(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		out := make([]apiResource, 0, len(s.resources))
		for _, rs := range s.resources {
			out = append(out, rs.view(s))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}))
}

func (r *Rack) systemResourceGet(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		rs, err := s.rackResource(c.Var("name"))
		if err != nil {
			return nil, err
		}
		return rs.view(s), nil
	}))
}

// systemResourceCreate is POST /resources (params kind, name, parameters).
func (r *Rack) systemResourceCreate(c *ctx) error {
	kind := c.Value("kind")
	name, _ := c.param("name")
	params, err := optMap(c.param("parameters"))
	if err != nil {
		return err
	}
	known := slices.ContainsFunc(resourceTypes, func(t apiResourceType) bool { return t.Name == kind })
	if !known {
		return badRequest("rack resource type unknown: %s", kind)
	}
	if name == "" {
		name = fmt.Sprintf("%s-%d", kind, time.Now().UnixNano()%100000)
	}
	if params == nil {
		params = map[string]string{}
	}
	return c.json(r.with(func(s *state) (any, error) {
		if _, exists := s.resources[name]; exists {
			return nil, errorf(http.StatusConflict, "resource already exists: %s", name)
		}
		pw := strings.ToLower(randString(upper, 16))
		rs := &resourceState{apiResource: apiResource{
			Name: name, Type: kind, Status: "running", Parameters: params,
			Url: resourceURL(kind, name, pw),
		}}
		s.resources[name] = rs
		return rs.view(s), nil
	}))
}

func resourceURL(kind, name, pw string) string {
	host := name + ".simrack-system.svc.cluster.local"
	switch kind {
	case "postgres":
		return fmt.Sprintf("postgres://app:%s@%s:5432/app", pw, host)
	case "mysql", "mariadb":
		return fmt.Sprintf("mysql://app:%s@%s:3306/app", pw, host)
	case "redis":
		return fmt.Sprintf("redis://:%s@%s:6379/0", pw, host)
	default:
		return fmt.Sprintf("memcached://%s:11211", host)
	}
}

func (r *Rack) systemResourceUpdate(c *ctx) error {
	params, err := optMap(c.param("parameters"))
	if err != nil {
		return err
	}
	return c.json(r.with(func(s *state) (any, error) {
		rs, err := s.rackResource(c.Var("name"))
		if err != nil {
			return nil, err
		}
		next := map[string]string{}
		for k, v := range rs.Parameters {
			next[k] = v
		}
		for k, v := range params {
			next[k] = v
		}
		rs.Parameters = next
		return rs.view(s), nil
	}))
}

func (r *Rack) systemResourceDelete(c *ctx) error {
	return c.ok(r.with(func(s *state) (any, error) {
		name := c.Var("name")
		if _, err := s.rackResource(name); err != nil {
			return nil, err
		}
		delete(s.resources, name)
		return nil, nil
	}))
}

// systemResourceLink is POST /resources/{name}/links (param app).
func (r *Rack) systemResourceLink(c *ctx) error {
	app := c.Value("app")
	return c.json(r.with(func(s *state) (any, error) {
		rs, err := s.rackResource(c.Var("name"))
		if err != nil {
			return nil, err
		}
		if _, err := s.app(app); err != nil {
			return nil, err
		}
		if !slices.Contains(rs.links, app) {
			rs.links = append(slices.Clone(rs.links), app)
		}
		return rs.view(s), nil
	}))
}

func (r *Rack) systemResourceUnlink(c *ctx) error {
	app := c.Var("app")
	return c.json(r.with(func(s *state) (any, error) {
		rs, err := s.rackResource(c.Var("name"))
		if err != nil {
			return nil, err
		}
		i := slices.Index(rs.links, app)
		if i < 0 {
			return nil, notFound("resource %s is not linked to app %s", rs.Name, app)
		}
		rs.links = slices.Delete(slices.Clone(rs.links), i, i+1)
		return rs.view(s), nil
	}))
}

func (r *Rack) systemResourceTypes(c *ctx) error {
	return c.renderJSON(resourceTypes)
}
