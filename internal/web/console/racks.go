package console

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// appsPerPage is how many apps the rack page shows at a time.
const appsPerPage = 50

// rackPages are the templates of the rack and app pages; they share
// templates/rackparts.html.
var rackPages = []string{"racks", "rack", "app", "build", "release", "env"}

// rackFuncs are the rack pages' own template functions.
var rackFuncs = template.FuncMap{
	// seg escapes one path segment of a link (names come from the rack).
	"seg": url.PathEscape,
	// crumb is the data of the "crumbs" template: the rack, and the app
	// ("" on the app's own page).
	"crumb": func(rack, app string) map[string]string { return map[string]string{"Rack": rack, "App": app} },
}

// routesRacks loads the rack pages and registers their routes: the rack
// list, a rack's apps, an app, a build with its logs, a release, and an
// app's environment (keys; values on request).
func (c *console) routesRacks(mux *http.ServeMux) error {
	for _, name := range rackPages {
		t, err := template.New(name).Funcs(funcs).Funcs(rackFuncs).ParseFS(assets, "templates/layout.html",
			"templates/rackparts.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		c.pages[name] = t
	}
	mux.HandleFunc("GET /{$}", c.page(c.rackIndex))
	mux.HandleFunc("GET /racks/{rack}", c.page(c.onRack(c.rackPage)))
	mux.HandleFunc("GET /racks/{rack}/apps/{app}", c.page(c.onRack(c.appPage)))
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/builds/{id}", c.page(c.onRack(c.buildPage)))
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/releases/{id}", c.page(c.onRack(c.releasePage)))
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/env", c.page(c.onRack(c.envPage)))
	mux.HandleFunc("POST /racks/{rack}/apps/{app}/env/reveal", c.revealAction)
	return nil
}

// onRack selects the rack the path names (a configured one, or 404) and
// checks the other names in the path before f makes any read.
func (c *console) onRack(f handlerFunc) handlerFunc {
	return func(q *request) {
		name := q.r.PathValue("rack")
		if !slices.Contains(c.o.Racks, name) {
			c.renderError(q.w, q.r, q, http.StatusNotFound, "Not found", "There is no rack with this name on this gateway.")
			return
		}
		q.rack = name
		for _, k := range []string{"app", "id"} {
			if v := q.r.PathValue(k); v != "" && !validName.MatchString(v) {
				c.renderError(q.w, q.r, q, http.StatusNotFound, "Not found", "That is not a valid "+k+" name.")
				return
			}
		}
		f(q)
	}
}

// rackHref is the rack page of rack.
func rackHref(rack string) string { return "/racks/" + url.PathEscape(rack) }

// rackIndex is "/": the rack page of the one rack, or of the rack the
// layout's selector asks for (?rack=), or the list of racks.
func (c *console) rackIndex(q *request) {
	if len(c.o.Racks) == 1 || q.r.URL.Query().Get("rack") != "" {
		http.Redirect(q.w, q.r, rackHref(q.rack), http.StatusSeeOther)
		return
	}
	c.render(q.w, q.r, q, http.StatusOK, "racks", "Racks", "/", c.o.Racks)
}

// rackRow is one app on the rack page.
type rackRow struct {
	rackApp
	DeployedAt time.Time
	DeployedBy string // from the audit log ("" if it has no promotion)
	DeployErr  *sectionErr
}

type rackData struct {
	Rack       string
	Apps       []*rackRow
	AppsErr    *sectionErr
	Query      string
	Total      int // apps matching the filter
	Page, Last int
	Prev, Next string // links, "" at the ends
}

func (c *console) rackPage(q *request) {
	rd := c.readsFor(q, "rack", "")
	d := rackData{Rack: q.rack, Query: strings.TrimSpace(q.r.URL.Query().Get("q")), Page: 1}
	if p, err := strconv.Atoi(q.r.URL.Query().Get("page")); err == nil && p > 1 {
		d.Page = p
	}
	var apps []rackApp
	if d.AppsErr = rd.get("/apps", nil, &apps); d.AppsErr == nil {
		sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
		if d.Query != "" {
			needle := strings.ToLower(d.Query)
			apps = slices.DeleteFunc(apps, func(a rackApp) bool {
				return !strings.Contains(strings.ToLower(a.Name), needle) && !strings.Contains(strings.ToLower(a.Status), needle)
			})
		}
		d.Total = len(apps)
		d.Last = max(1, (len(apps)+appsPerPage-1)/appsPerPage)
		d.Page = min(d.Page, d.Last)
		apps = apps[(d.Page-1)*appsPerPage : min(len(apps), d.Page*appsPerPage)]
		d.Prev, d.Next = pageLink(q.rack, d.Query, d.Page-1, d.Last), pageLink(q.rack, d.Query, d.Page+1, d.Last)
		promos := c.promotions(q, "")
		var fs []func()
		for _, a := range apps {
			row := &rackRow{rackApp: a}
			d.Apps = append(d.Apps, row)
			if pr, ok := promos[a.Name+"/"+a.Release]; ok {
				row.DeployedAt, row.DeployedBy = pr.at, pr.by
				continue
			}
			if a.Release == "" || !validName.MatchString(a.Name) || !validName.MatchString(a.Release) {
				continue
			}
			// No promotion through the gateway on record: the release's
			// creation is the last deploy.
			fs = append(fs, func() {
				var rel rackRelease
				row.DeployErr = rd.get("/apps/"+a.Name+"/releases/"+a.Release, nil, &rel)
				row.DeployedAt = rel.Created
			})
		}
		parallel(fs...)
	}
	defer rd.end(http.StatusOK)
	c.render(q.w, q.r, q, http.StatusOK, "rack", "Rack "+q.rack, "/racks", d)
}

// pageLink is the rack page's link to page p (1..last), "" outside.
func pageLink(rack, query string, p, last int) string {
	if p < 1 || p > last {
		return ""
	}
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if p > 1 {
		v.Set("page", strconv.Itoa(p))
	}
	if len(v) == 0 {
		return rackHref(rack)
	}
	return rackHref(rack) + "?" + v.Encode()
}

// promotion is who promoted a release through the gateway, and when.
type promotion struct {
	by string
	at time.Time
}

// maxPromotions bounds the audit events read for "who deployed".
const maxPromotions = 500

// promotions reads the audit log's allowed, successful release
// promotions on the selected rack (of app, or all apps), newest first,
// keyed "app/release": who deployed each release. The audit log is the
// gateway's own record; an error reading it leaves the column empty.
func (c *console) promotions(q *request, app string) map[string]promotion {
	evs, err := c.o.Admin.Store.ListAudit(q.r.Context(), store.AuditFilter{Action: "ReleasePromote", Decision: "allow",
		Rack: q.rack, App: app, Limit: maxPromotions})
	if err != nil {
		c.log.Warn("console: cannot read promotions from the audit log", "err", err)
		return nil
	}
	out := map[string]promotion{}
	for _, ev := range evs {
		if ev.Status < 200 || ev.Status > 299 {
			continue // the write-ahead attempt (status 0) or a failed promotion
		}
		k := ev.App + "/" + ev.Resource
		if _, seen := out[k]; !seen {
			out[k] = promotion{by: ev.Actor, at: ev.Time}
		}
	}
	return out
}
