package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// recentN is how many builds and releases the overview shows per app.
const recentN = 5

// maxApps bounds the apps shown (each costs four rack reads).
const maxApps = 100

// Wire shapes of the rack API (convox pkg/structs), only the fields shown.
// Release env is deliberately absent: the console never displays env.
type rackApp struct {
	Name       string `json:"name"`
	Generation string `json:"generation"`
	Locked     bool   `json:"locked"`
	Release    string `json:"release"`
	Status     string `json:"status"`
}

type rackService struct {
	Name   string `json:"name"`
	Count  int    `json:"count"`
	Cpu    int    `json:"cpu"`
	Memory int    `json:"memory"`
	Domain string `json:"domain"`
	Ports  []struct {
		Balancer  int `json:"balancer"`
		Container int `json:"container"`
	} `json:"ports"`
}

type rackProcess struct {
	Id       string    `json:"id"`
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Release  string    `json:"release"`
	Instance string    `json:"instance"`
	Started  time.Time `json:"started"`
}

type rackBuild struct {
	Id          string    `json:"id"`
	Status      string    `json:"status"`
	Description string    `json:"description"`
	Release     string    `json:"release"`
	Started     time.Time `json:"started"`
}

type rackRelease struct {
	Id          string    `json:"id"`
	Build       string    `json:"build"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// sectionErr is why a part of the overview could not be read.
type sectionErr struct {
	Denied bool
	Msg    string
}

type appView struct {
	rackApp
	Services     []rackService
	ServicesErr  *sectionErr
	Processes    []rackProcess
	ProcessesErr *sectionErr
	Builds       []rackBuild
	BuildsErr    *sectionErr
	Releases     []rackRelease
	ReleasesErr  *sectionErr
}

type overviewData struct {
	Rack      string
	Apps      []*appView
	AppsErr   *sectionErr
	Truncated int // apps not shown
	RecentN   int
}

// rackGet reads path from the selected rack through the proxy, as the
// signed-in person: the session token is the credential, so the proxy
// authenticates, authorizes, filters and audits the read like any other.
func (c *console) rackGet(ctx context.Context, q *request, path string, query url.Values, out any) *sectionErr {
	ans, err := c.o.Proxy.Read(ctx, proxy.RackRead{Rack: q.rack, Path: path, Query: query, Credential: q.token, For: q.r})
	if err != nil {
		return &sectionErr{Msg: "the rack's answer could not be read"}
	}
	if ans.Status >= 200 && ans.Status < 300 {
		if err := json.Unmarshal(ans.Body, out); err != nil {
			return &sectionErr{Msg: "the rack's answer could not be read"}
		}
		return nil
	}
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(ans.Body, &body)
	if body.Error == "" {
		body.Error = truncate(string(ans.Body), 200)
	}
	if ans.Status == http.StatusForbidden || ans.Status == http.StatusUnauthorized {
		return &sectionErr{Denied: true, Msg: body.Error}
	}
	return &sectionErr{Msg: fmt.Sprintf("unavailable (HTTP %d): %s", ans.Status, body.Error)}
}

func (c *console) overview(q *request) {
	ctx, cancel := context.WithTimeout(q.r.Context(), 30*time.Second)
	defer cancel()
	d := overviewData{Rack: q.rack, RecentN: recentN}
	var apps []rackApp
	if d.AppsErr = c.rackGet(ctx, q, "/apps", nil, &apps); d.AppsErr == nil {
		sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
		if len(apps) > maxApps {
			d.Truncated = len(apps) - maxApps
			apps = apps[:maxApps]
		}
		d.Apps = make([]*appView, len(apps))
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		limit := url.Values{"limit": {fmt.Sprint(recentN)}}
		get := func(path string, query url.Values, out any, errp **sectionErr) {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				*errp = c.rackGet(ctx, q, path, query, out)
			})
		}
		for i := range apps {
			a := &appView{rackApp: apps[i]}
			d.Apps[i] = a
			base := "/apps/" + url.PathEscape(a.Name)
			get(base+"/services", nil, &a.Services, &a.ServicesErr)
			get(base+"/processes", nil, &a.Processes, &a.ProcessesErr)
			get(base+"/builds", limit, &a.Builds, &a.BuildsErr)
			get(base+"/releases", limit, &a.Releases, &a.ReleasesErr)
		}
		wg.Wait()
		for _, a := range d.Apps {
			sort.Slice(a.Services, func(i, j int) bool { return a.Services[i].Name < a.Services[j].Name })
			sort.Slice(a.Processes, func(i, j int) bool {
				x, y := a.Processes[i], a.Processes[j]
				return x.Name < y.Name || x.Name == y.Name && x.Id < y.Id
			})
			if len(a.Builds) > recentN {
				a.Builds = a.Builds[:recentN]
			}
			if len(a.Releases) > recentN {
				a.Releases = a.Releases[:recentN]
			}
		}
	}
	title := "Rack " + q.rack
	c.render(q.w, q.r, q, http.StatusOK, "overview", title, "/", d)
}
