package console

import (
	"net/http"
	"net/url"
	"sort"
	"time"
)

// appRecentN is how many builds and releases the app page lists.
const appRecentN = 20

type appRelease struct {
	rackRelease
	Current    bool
	DeployedBy string // who promoted it through the gateway (audit log)
	DeployedAt time.Time
	Promote    string // the promote action's link, where allowed
}

type appProcess struct {
	rackProcess
	Stop string // the stop action's link, where allowed
}

type appService struct {
	rackService
	Scale string // the scale action's link, where allowed
}

type appData struct {
	Rack, App   string
	Info        rackApp
	InfoErr     *sectionErr
	Services    []appService
	ServicesErr *sectionErr
	Processes   []appProcess
	ProcsErr    *sectionErr
	Releases    []appRelease
	ReleasesErr *sectionErr
	Builds      []rackBuild
	BuildsErr   *sectionErr
	RecentN     int
	// Action links, "" where the principal's policy would refuse the
	// rack call behind them.
	Restart, Logs, Env string
}

// appHref is the app's page; actionHref one of its actions.
func appHref(rack, app string) string { return rackHref(rack) + "/apps/" + url.PathEscape(app) }

func actionHref(rack, app, action string, v url.Values) string {
	h := appHref(rack, app) + "/actions/" + action
	if len(v) > 0 {
		h += "?" + v.Encode()
	}
	return h
}

func (c *console) appPage(q *request) {
	app := q.r.PathValue("app")
	rd := c.readsFor(q, "app", app)
	base := "/apps/" + app
	d := appData{Rack: q.rack, App: app, RecentN: appRecentN}
	var svcs []rackService
	var procs []rackProcess
	var rels []rackRelease
	limit := url.Values{"limit": {"20"}}
	parallel(
		func() { d.InfoErr = rd.get(base, nil, &d.Info) },
		func() { d.ServicesErr = rd.get(base+"/services", nil, &svcs) },
		func() { d.ProcsErr = rd.get(base+"/processes", nil, &procs) },
		func() { d.ReleasesErr = rd.get(base+"/releases", limit, &rels) },
		func() { d.BuildsErr = rd.get(base+"/builds", limit, &d.Builds) },
	)
	status := http.StatusOK
	if d.InfoErr != nil && !d.InfoErr.Denied && d.ServicesErr != nil && d.ReleasesErr != nil {
		status = http.StatusNotFound // no such app (or the rack is down): nothing was read
	}
	defer rd.end(status)

	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	for _, s := range svcs {
		as := appService{rackService: s}
		if validName.MatchString(s.Name) && c.allows(q, "PUT", base+"/services/"+s.Name) {
			as.Scale = actionHref(q.rack, app, "scale", url.Values{"service": {s.Name}})
		}
		d.Services = append(d.Services, as)
	}
	if len(svcs) > 0 && validName.MatchString(svcs[0].Name) && c.allows(q, "POST", base+"/services/"+svcs[0].Name+"/restart") {
		d.Restart = actionHref(q.rack, app, "restart", nil)
	}
	sort.Slice(procs, func(i, j int) bool {
		x, y := procs[i], procs[j]
		return x.Name < y.Name || x.Name == y.Name && x.Id < y.Id
	})
	for _, p := range procs {
		ap := appProcess{rackProcess: p}
		if validName.MatchString(p.Id) && c.allows(q, "DELETE", base+"/processes/"+p.Id) {
			ap.Stop = actionHref(q.rack, app, "stop", url.Values{"process": {p.Id}})
		}
		d.Processes = append(d.Processes, ap)
	}
	promos := c.promotions(q, app)
	for _, r := range rels[:min(len(rels), appRecentN)] {
		ar := appRelease{rackRelease: r, Current: r.Id == d.Info.Release}
		if pr, ok := promos[app+"/"+r.Id]; ok {
			ar.DeployedBy, ar.DeployedAt = pr.by, pr.at
		}
		if !ar.Current && validName.MatchString(r.Id) && c.allows(q, "POST", base+"/releases/"+r.Id+"/promote") {
			ar.Promote = actionHref(q.rack, app, "promote", url.Values{"release": {r.Id}})
		}
		d.Releases = append(d.Releases, ar)
	}
	d.Builds = d.Builds[:min(len(d.Builds), appRecentN)]
	if c.allows(q, "SOCKET", base+"/logs") {
		d.Logs = appHref(q.rack, app) + "/logs"
	}
	if c.allows(q, "GET", base+"/releases/x") {
		d.Env = appHref(q.rack, app) + "/env"
	}
	c.render(q.w, q.r, q, status, "app", app+" · "+q.rack, "/racks", d)
}
