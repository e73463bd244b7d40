package console

import (
	"net/http"
	"net/url"
	"time"
)

type releaseData struct {
	Rack, App  string
	Release    rackRelease
	ReleaseErr *sectionErr
	Current    bool
	DeployedBy string
	DeployedAt time.Time
	Promote    string // the promote action's link, where allowed
	Env        string // the app's env page, where release reads are allowed
}

// releasePage shows one release: its build (a link), whether it is the
// app's current one, and who promoted it through the gateway.
func (c *console) releasePage(q *request) {
	app, id := q.r.PathValue("app"), q.r.PathValue("id")
	rd := c.readsFor(q, "release", app)
	d := releaseData{Rack: q.rack, App: app}
	var info rackApp
	var infoErr *sectionErr
	parallel(
		func() { d.ReleaseErr = rd.get("/apps/"+app+"/releases/"+id, nil, &d.Release) },
		func() { infoErr = rd.get("/apps/"+app, nil, &info) },
	)
	status := http.StatusOK
	if d.ReleaseErr != nil && !d.ReleaseErr.Denied {
		status = http.StatusNotFound
	}
	defer rd.end(status)
	d.Current = infoErr == nil && info.Release == id
	if pr, ok := c.promotions(q, app)[app+"/"+id]; ok {
		d.DeployedBy, d.DeployedAt = pr.by, pr.at
	}
	if d.ReleaseErr == nil && !d.Current && c.allows(q, "POST", "/apps/"+app+"/releases/"+id+"/promote") {
		d.Promote = actionHref(q.rack, app, "promote", url.Values{"release": {id}})
	}
	if c.allows(q, "GET", "/apps/"+app+"/releases/"+id) {
		d.Env = appHref(q.rack, app) + "/env"
	}
	c.render(q.w, q.r, q, status, "release", "Release "+id+" · "+app, "/racks", d)
}
