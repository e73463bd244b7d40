package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// Wire shapes of the rack API (convox pkg/structs), only the fields shown.
// Release env is read only by the env page (envRelease).
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
	Reason      string    `json:"reason"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
}

type rackRelease struct {
	Id          string    `json:"id"`
	Build       string    `json:"build"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// sectionErr is why a part of a page could not be read.
type sectionErr struct {
	Denied bool
	Msg    string
}

// validName is what the console accepts as an app, build, release,
// service or process name from its own URLs (convox names are far
// narrower); anything else is refused before any rack read.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// reads are the rack reads of one page view. They are made through the
// proxy as the signed-in person (the session token is the credential), so
// the proxy authenticates, authorizes, filters and audits each like any
// call; the allowed ones are collected (proxy.ReadLog) and the page view
// is audited as one event naming them (done), while each refused or
// failed read is still its own event.
type reads struct {
	c    *console
	q    *request
	ctx  context.Context
	stop context.CancelFunc
	log  proxy.ReadLog
	page string // names the page in the view's event
	app  string
}

// readsFor starts a page view's reads; end must be called.
func (c *console) readsFor(q *request, page, app string) *reads {
	ctx, stop := context.WithTimeout(q.r.Context(), 30*time.Second)
	return &reads{c: c, q: q, ctx: ctx, stop: stop, page: page, app: app}
}

// get reads path into out (JSON).
func (rd *reads) get(path string, query url.Values, out any) *sectionErr {
	return rd.getOn(rd.q.rack, path, query, out)
}

// getOn is get from another configured rack than the page's (the status
// page reads every rack's version in one view).
func (rd *reads) getOn(rack, path string, query url.Values, out any) *sectionErr {
	ans, err := rd.c.o.Proxy.Read(rd.ctx, proxy.RackRead{Rack: rack, Path: path, Query: query,
		Credential: rd.q.token, For: rd.q.r, Quiet: &rd.log})
	if err != nil {
		return &sectionErr{Msg: "the rack's answer could not be read"}
	}
	if ans.Status >= 200 && ans.Status < 300 {
		if err := json.Unmarshal(ans.Body, out); err != nil {
			return &sectionErr{Msg: "the rack's answer could not be read"}
		}
		return nil
	}
	return answerErr(ans)
}

// stream reads a websocket route that only sends (a build's logs).
func (rd *reads) stream(path string) (data string, cut bool, se *sectionErr) {
	ctx, stop := context.WithTimeout(rd.ctx, 10*time.Second)
	defer stop()
	ans, err := rd.c.o.Proxy.Read(ctx, proxy.RackRead{Rack: rd.q.rack, Path: path, Credential: rd.q.token,
		For: rd.q.r, Quiet: &rd.log, Socket: true})
	if err != nil {
		return "", false, &sectionErr{Msg: "the rack's answer could not be read"}
	}
	if ans.Status != http.StatusSwitchingProtocols {
		return "", false, answerErr(ans)
	}
	return string(ans.Body), ans.Cut, nil
}

// answerErr says why the rack (or the gateway) did not answer a read.
func answerErr(ans proxy.RackAnswer) *sectionErr {
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

// parallel runs fs with at most 8 at a time.
func parallel(fs ...func()) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f()
		})
	}
	wg.Wait()
}

// maxViewReads bounds the reads one view's event names.
const maxViewReads = 64

// end audits the page view as one event naming its allowed reads.
func (rd *reads) end(status int) {
	rd.stop()
	p, q := rd.q.p, rd.q
	rs := rd.log.Reads()
	paths := make([]string, 0, min(len(rs), maxViewReads))
	for _, r := range rs[:min(len(rs), maxViewReads)] {
		paths = append(paths, r.Path)
	}
	d := map[string]any{"page": rd.page, "reads": paths}
	if len(rs) > maxViewReads {
		d["reads_more"] = len(rs) - maxViewReads
	}
	ev := &chain.Event{Time: time.Now(), RequestID: q.actor.RequestID, Rack: q.rack, ActorType: string(p.Kind),
		Actor: p.Email, ActorID: p.UserID, TokenID: p.TokenID, Role: p.RoleOn(q.rack), SourceIP: q.actor.SourceIP,
		UserAgent: q.actor.UserAgent, Method: q.r.Method, Path: truncate(q.r.URL.Path, 512), Action: "console.view",
		App: truncate(rd.app, 128), Decision: "allow", Reason: string(authz.ReasonAllowed), Status: status,
		Details: audit.Details(d)}
	rd.c.o.Admin.Audit.Record(ev)
}
