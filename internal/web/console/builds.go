package console

import "net/http"

type buildData struct {
	Rack, App string
	Build     rackBuild
	BuildErr  *sectionErr
	// Logs are the rack's build output: shown as escaped text only.
	Logs    string
	LogsCut bool // the stream had not ended when the page stopped reading
	LogsErr *sectionErr
}

// buildPage shows one build and its logs. The logs are read from the
// rack's build log socket through the proxy (log:read), for at most a few
// seconds: a running build's page shows what it has written so far.
func (c *console) buildPage(q *request) {
	app, id := q.r.PathValue("app"), q.r.PathValue("id")
	rd := c.readsFor(q, "build", app)
	d := buildData{Rack: q.rack, App: app}
	base := "/apps/" + app + "/builds/" + id
	parallel(
		func() { d.BuildErr = rd.get(base, nil, &d.Build) },
		func() { d.Logs, d.LogsCut, d.LogsErr = rd.stream(base + "/logs") },
	)
	status := http.StatusOK
	if d.BuildErr != nil && !d.BuildErr.Denied {
		status = http.StatusNotFound
	}
	defer rd.end(status)
	c.render(q.w, q.r, q, status, "build", "Build "+id+" · "+app, "/racks", d)
}
