package simrack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// defaultManifest is assumed for a build whose source was kept only in part
// and for an imported build without a manifest of its own.
const defaultManifest = `services:
  web:
    build: .
    port: 3000
`

// buildView copies a build for rendering.
func buildView(b *buildState) apiBuild { return b.apiBuild }

func (r *Rack) buildList(c *ctx) error {
	limit, err := optInt(c.query("limit"))
	if err != nil {
		return err
	}
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := make([]apiBuild, 0, len(a.builds))
		for i := len(a.buildOrder) - 1; i >= 0; i-- {
			out = append(out, buildView(a.builds[a.buildOrder[i]]))
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
		n := 10
		if limit != nil {
			n = *limit
		}
		if n >= 0 && len(out) > n {
			out = out[:n]
		}
		return out, nil
	}))
}

func (r *Rack) buildGet(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		b, err := a.build(c.Var("id"))
		if err != nil {
			return nil, err
		}
		return buildView(b), nil
	}))
}

// buildCreate is POST /apps/{app}/builds with param url=object://app/key. The
// build runs for buildDuration, then completes and creates a release. An
// empty url (`build --external`) leaves the build "created" for BuildUpdate.
func (r *Rack) buildCreate(c *ctx) error {
	app := c.Var("app")
	src := c.Value("url")
	desc, _ := c.param("description")
	manifestName, _ := c.param("manifest")
	gitSha, _ := c.param("git-sha")

	var key string
	if src != "" {
		u, err := url.Parse(src)
		if err != nil {
			return badRequest("url: %s", err)
		}
		if u.Scheme != "object" {
			return badRequest("url: unsupported scheme: %s", u.Scheme)
		}
		key = strings.TrimPrefix(u.Path, "/")
		if u.Host != "" && u.Host != app {
			return badRequest("url: object belongs to app %s", u.Host)
		}
	}

	var plan buildPlan
	v, err := r.withApp(app, func(a *appState) (any, error) {
		b := &buildState{
			apiBuild: apiBuild{
				Id: newID("B"), App: app, Description: desc, GitSha: gitSha,
				Repository: fmt.Sprintf("registry.simrack.local/%s", app),
				Status:     "created",
			},
			changed: make(chan struct{}),
		}
		if src == "" {
			a.addBuild(b)
			return buildView(b), nil
		}
		o, ok := a.objects[key]
		if !ok {
			return nil, notFound("object not found: %s", key)
		}
		plan = planBuild(r.st.name, app, b.Id, b.Repository, o, manifestName)
		b.Status = "running"
		b.Process = "build-" + randString(podAlphabet, 5)
		b.Started = time.Now().UTC()
		a.addBuild(b)
		return buildView(b), nil
	})
	if err != nil {
		return err
	}
	if b := v.(apiBuild); b.Status == "running" {
		r.runBuild(app, b.Id, plan)
	}
	return c.renderJSON(v)
}

// runBuild feeds the build's log over buildDuration, then completes or
// fails it as planned. The manifest is recorded when the build pod would
// have read it (BuildUpdate before the docker build).
func (r *Rack) runBuild(app, id string, plan buildPlan) {
	lines := plan.lines
	_, _ = r.withApp(app, func(a *appState) (any, error) {
		if b, ok := a.builds[id]; ok {
			b.Manifest = plan.manifest
		}
		return nil, nil
	})
	step := r.buildDuration / time.Duration(len(lines)+1)
	for i, line := range lines {
		time.AfterFunc(step*time.Duration(i), func() {
			_, _ = r.withApp(app, func(a *appState) (any, error) {
				if b, ok := a.builds[id]; ok && !b.done {
					b.appendLog(line)
				}
				return nil, nil
			})
		})
	}
	time.AfterFunc(r.buildDuration, func() {
		_, _ = r.withApp(app, func(a *appState) (any, error) {
			b, ok := a.builds[id]
			if !ok || b.done {
				return nil, nil
			}
			if plan.failed {
				failBuild(a, b)
				return nil, nil
			}
			r.completeBuild(a, b)
			return nil, nil
		})
	})
}

// completeBuild creates the build's release (env carried over from the
// latest release, like the build pod's ReleaseCreate) and stores its logs.
// The caller holds the lock.
func (r *Rack) completeBuild(a *appState, b *buildState) {
	env := ""
	if l := a.latestRelease(); l != nil {
		env = l.Env
	}
	rel := &apiRelease{
		Id: newID("R"), App: a.Name, Build: b.Id, Env: env, Manifest: b.Manifest,
		Description: b.Description, Created: time.Now().UTC(),
	}
	a.addRelease(rel)
	b.Release = rel.Id
	b.Logs = fmt.Sprintf("object://%s/build/%s/logs", a.Name, b.Id)
	a.objects[fmt.Sprintf("build/%s/logs", b.Id)] = logObject(b.logs)
	b.finish("complete")
}

// failBuild stores a failed build's logs and marks it failed, without a
// release (the build pod's fail). The caller holds the lock.
func failBuild(a *appState, b *buildState) {
	b.Logs = fmt.Sprintf("object://%s/build/%s/logs", a.Name, b.Id)
	a.objects[fmt.Sprintf("build/%s/logs", b.Id)] = logObject(b.logs)
	b.finish("failed")
}

// logObject stores build output as an object, like the build pod does.
func logObject(lines []string) *object {
	o, _ := consume(strings.NewReader(strings.Join(lines, "")))
	return o
}

// findInTarball returns the content of a file in a .tgz (or .tar) blob.
func findInTarball(data []byte, name string) string {
	var rd io.Reader = bytes.NewReader(data)
	if gz, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
		rd = gz
	}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err != nil {
			return ""
		}
		if strings.TrimPrefix(h.Name, "./") == name && h.Size < objectHeadLimit {
			b, err := io.ReadAll(tr)
			if err != nil {
				return ""
			}
			return string(b)
		}
	}
}

// buildUpdate is PUT /apps/{app}/builds/{id}, used by build pods.
func (r *Rack) buildUpdate(c *ctx) error {
	fields := map[string]string{}
	for _, k := range []string{"entrypoint", "logs", "manifest", "release", "status"} {
		if v, ok := c.param(k); ok {
			fields[k] = v
		}
	}
	times := map[string]time.Time{}
	for _, k := range []string{"started", "ended"} {
		if v, ok := c.param(k); ok {
			t, err := time.Parse("20060102.150405.000000000", v)
			if err != nil {
				return err
			}
			times[k] = t
		}
	}
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		b, err := a.build(c.Var("id"))
		if err != nil {
			return nil, err
		}
		for k, v := range fields {
			switch k {
			case "entrypoint":
				b.Entrypoint = v
			case "logs":
				b.Logs = v
			case "manifest":
				b.Manifest = v
			case "release":
				b.Release = v
			case "status":
				b.Status = v
			}
		}
		if t, ok := times["started"]; ok {
			b.Started = t
		}
		if t, ok := times["ended"]; ok {
			b.Ended = t
		}
		if (b.Status == "complete" || b.Status == "failed") && !b.done {
			b.finish(b.Status)
		}
		return buildView(b), nil
	}))
}

// buildExportManifest is the build.json inside an export tarball.
type buildExportManifest struct {
	Build   apiBuild `json:"build"`
	Release string   `json:"release-env,omitempty"`
}

// buildExport streams a small deterministic .tgz holding build.json.
func (r *Rack) buildExport(c *ctx) error {
	v, err := r.withApp(c.Var("app"), func(a *appState) (any, error) {
		b, err := a.build(c.Var("id"))
		if err != nil {
			return nil, err
		}
		return buildView(b), nil
	})
	if err != nil {
		return err
	}
	b := v.(apiBuild)
	data, err := json.MarshalIndent(buildExportManifest{Build: b}, "", "  ")
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(c.w)
	tw := tar.NewWriter(gz)
	files := []struct {
		name string
		body []byte
	}{
		{"build.json", data},
		{"images/" + b.Id + ".tar", []byte("simulated image layers for " + b.Id + "\n")},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.body)), ModTime: b.Started, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// buildImport is POST /apps/{app}/builds/import: a streamed build tarball.
// The body is hashed and counted, a build.json is honoured when present,
// and the imported build is complete with its own release.
func (r *Rack) buildImport(c *ctx) error {
	app := c.Var("app")
	if _, err := r.withApp(app, func(*appState) (any, error) { return nil, nil }); err != nil {
		return err
	}
	o, err := consume(c.r.Body)
	if err != nil {
		return err
	}
	var meta buildExportManifest
	if o.complete() {
		if bj := findInTarball(o.head, "build.json"); bj != "" {
			_ = json.Unmarshal([]byte(bj), &meta)
		}
	}
	return c.json(r.withApp(app, func(a *appState) (any, error) {
		now := time.Now().UTC()
		b := &buildState{
			apiBuild: apiBuild{
				Id: newID("B"), App: app,
				Description: coalesce(meta.Build.Description, fmt.Sprintf("import %d bytes sha256:%s", o.size, o.sha256[:12])),
				Manifest:    coalesce(meta.Build.Manifest, defaultManifest),
				Process:     "build-" + randString(podAlphabet, 5),
				Repository:  fmt.Sprintf("registry.simrack.local/%s", app),
				Status:      "running",
				Started:     now,
			},
			changed: make(chan struct{}),
		}
		b.logs = []string{fmt.Sprintf("Importing build: %d bytes sha256:%s\n", o.size, o.sha256)}
		a.addBuild(b)
		r.completeBuild(a, b)
		return buildView(b), nil
	}))
}

// buildImportImage is POST …/builds/{id}/image: 202 with no body.
func (r *Rack) buildImportImage(c *ctx) error {
	image := c.Value("image")
	if image == "" {
		return errorf(http.StatusUnprocessableEntity, "image param required")
	}
	_, err := r.withApp(c.Var("app"), func(a *appState) (any, error) {
		b, err := a.build(c.Var("id"))
		if err != nil {
			return nil, err
		}
		if b.Manifest == "" {
			return nil, errorf(http.StatusUnprocessableEntity, "build %s has no manifest; populate via BuildUpdate before BuildImportImage", b.Id)
		}
		b.Status = "running"
		b.Started = time.Now().UTC()
		b.appendLog("Importing image " + image + "\n")
		r.completeBuild(a, b)
		return nil, nil
	})
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusAccepted)
	return nil
}

// buildLogs streams a build's output; while the build runs it follows until
// the build ends (unless `Follow: false`).
func (r *Rack) buildLogs(c *ctx) error {
	fv, fok := c.header("Follow")
	follow := optBool(fv, fok, true)
	stop := c.ws.untilEOF()
	app, id := c.Var("app"), c.Var("id")
	sent := 0
	for {
		var lines []string
		var changed chan struct{}
		var done bool
		_, err := r.withApp(app, func(a *appState) (any, error) {
			b, err := a.build(id)
			if err != nil {
				return nil, err
			}
			lines = append(lines, b.logs[sent:]...)
			changed, done = b.changed, b.done
			return nil, nil
		})
		if err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := c.Write([]byte(l)); err != nil {
				return err
			}
		}
		sent += len(lines)
		if done || !follow {
			return nil
		}
		select {
		case <-changed:
		case <-stop:
			return nil
		}
	}
}

func coalesce(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
