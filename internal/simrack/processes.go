package simrack

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// processView copies a process for rendering.
func processView(p *procState) apiProcess { return p.apiProcess }

// processList is GET /apps/{app}/processes (query service, release).
func (r *Rack) processList(c *ctx) error {
	service, hasService := c.query("service")
	release, hasRelease := c.query("release")
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		out := make([]apiProcess, 0, len(a.processes))
		for _, p := range a.processes {
			if hasService && service != "" && p.Name != service {
				continue
			}
			if hasRelease && release != "" && p.Release != release {
				continue
			}
			out = append(out, processView(p))
		}
		sortProcesses(out)
		return out, nil
	}))
}

// sortProcesses orders like structs.Processes: app, name, id.
func sortProcesses(ps []apiProcess) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		return a.App+"-"+a.Name+"-"+a.Id < b.App+"-"+b.Name+"-"+b.Id
	})
}

func (r *Rack) processGet(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		p, err := a.process(c.Var("pid"))
		if err != nil {
			return nil, err
		}
		return processView(p), nil
	}))
}

// processStop deletes a process; a service process is replaced (by a new
// pod, as its Deployment would), a one-off process is gone.
func (r *Rack) processStop(c *ctx) error {
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		p, err := a.process(c.Var("pid"))
		if err != nil {
			return nil, err
		}
		delete(a.processes, p.Id)
		delete(a.files, p.Id)
		if !p.oneoff {
			a.reconcile(r.st.instanceIDs())
		}
		return nil, nil
	}))
}

// processRun is POST /apps/{app}/services/{service}/processes (`convox run`):
// options come in headers (Command, Environment, Release, …). The process
// is "pending" briefly, then "running" until stopped.
func (r *Rack) processRun(c *ctx) error {
	app, service := c.Var("app"), c.Var("service")
	command, _ := c.header("Command")
	env, err := optMap(c.header("Environment"))
	if err != nil {
		return err
	}
	release, hasRelease := c.header("Release")
	v, err := r.withApp(app, func(a *appState) (any, error) {
		s, err := a.service(service)
		if err != nil {
			return nil, err
		}
		rel := a.Release
		if hasRelease && release != "" {
			if _, err := a.release(release); err != nil {
				return nil, err
			}
			rel = release
		}
		p := a.newProcess(s, fmt.Sprintf("%s-run-%s", service, randString(podAlphabet, 5)), r.st.instanceIDs())
		p.oneoff = true
		p.env = env
		p.Command = command
		p.Release = rel
		p.Status = "pending"
		a.processes[p.Id] = p
		return processView(p), nil
	})
	if err != nil {
		return err
	}
	pid := v.(apiProcess).Id
	time.AfterFunc(200*time.Millisecond, func() {
		_, _ = r.withApp(app, func(a *appState) (any, error) {
			if p, ok := a.processes[pid]; ok && p.Status == "pending" {
				p.Status = "running"
			}
			return nil, nil
		})
	})
	return c.renderJSON(v)
}

// virtualFiles are present in every simulated container.
func virtualFiles(pid string) map[string][]byte {
	return map[string][]byte{
		"/etc/hostname":   []byte(pid + "\n"),
		"/etc/os-release": []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"),
	}
}

// containerFile returns a file of a process (uploaded, seeded or virtual).
// The caller holds the lock.
func (a *appState) containerFile(pid, name string) ([]byte, bool) {
	if b, ok := a.files[pid][name]; ok {
		return b, true
	}
	if b, ok := virtualFiles(pid)[name]; ok {
		return b, true
	}
	b, ok := imageFiles()[name]
	return b, ok && b != nil
}

// filesDownload is GET …/processes/{pid}/files?file=…: a tar stream of the
// file, like `tar -cf - file` in the container (read role is enough).
func (r *Rack) filesDownload(c *ctx) error {
	name := c.Value("file")
	v, err := r.withApp(c.Var("app"), func(a *appState) (any, error) {
		p, err := a.process(c.Var("pid"))
		if err != nil {
			return nil, err
		}
		out := map[string][]byte{}
		prefix := strings.TrimSuffix(name, "/") + "/"
		for path, body := range a.files[p.Id] {
			if path == name || strings.HasPrefix(path, prefix) {
				out[path] = body
			}
		}
		if b, ok := a.containerFile(p.Id, name); ok {
			out[name] = b
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	files := v.(map[string][]byte)
	if len(files) == 0 {
		return nil // tar prints to stderr only: empty stream
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(c)
	for _, n := range names {
		body := files[n]
		h := &tar.Header{Name: strings.TrimPrefix(n, "/"), Mode: 0o644, Size: int64(len(body)), ModTime: time.Now(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// allowedTarFlag mirrors the rack's tar-extra allow list.
func allowedTarFlag(f string) bool {
	switch f {
	case "--no-same-owner", "--no-same-permissions":
		return true
	}
	v, ok := strings.CutPrefix(f, "--strip-components=")
	if !ok || v == "" {
		return false
	}
	return strings.Trim(v, "0123456789") == ""
}

// filesUpload is POST …/processes/{pid}/files: a streamed tar extracted at
// "/" (query tar-extra). Each file keeps at most its first MiB.
func (r *Rack) filesUpload(c *ctx) error {
	if extra, ok := c.query("tar-extra"); ok {
		for _, f := range strings.Split(extra, ",") {
			if !allowedTarFlag(f) {
				return fmt.Errorf("unsupported tar flag: %s", f)
			}
		}
	}
	app, pid := c.Var("app"), c.Var("pid")
	if _, err := r.withApp(app, func(a *appState) (any, error) { return a.process(pid) }); err != nil {
		return err
	}
	got := map[string][]byte{}
	tr := tar.NewReader(c.r.Body)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		k := newHeadKeeper()
		if _, err := io.Copy(k, tr); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			got["/"+strings.TrimPrefix(h.Name, "/")] = k.head
		}
	}
	_, _ = io.Copy(io.Discard, c.r.Body) // tar padding after the end marker
	return c.ok(r.withApp(app, func(a *appState) (any, error) {
		if _, err := a.process(pid); err != nil {
			return nil, err
		}
		if a.files[pid] == nil {
			a.files[pid] = map[string][]byte{}
		}
		for n, b := range got {
			a.files[pid][n] = b
		}
		return nil, nil
	}))
}

// filesDelete is DELETE …/processes/{pid}/files?files=a,b (`rm -f`).
func (r *Rack) filesDelete(c *ctx) error {
	files := strings.Split(c.Value("files"), ",")
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		p, err := a.process(c.Var("pid"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			delete(a.files[p.Id], f)
		}
		return nil, nil
	}))
}
