package console

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// The console's rack actions: restart, scale, promote (or roll back) and
// stop. Each has a confirmation page (GET) that reads the current state
// through the proxy and says exactly what will happen, and a form that
// posts to the same URL; the post makes the rack call through the proxy
// as the signed-in person (proxy.Handler.Act), so that the policy, the
// step-up, the approval gate and the write-ahead audit apply exactly as
// for the same convox CLI call. What the page offers is decided by allows
// (the same policy); the proxy decides the call again.

// maxScale bounds the count a scale form may ask for.
const maxScale = 1000

// Ids as the rack makes them: app and service names (lowercase letters,
// digits, dashes), pod-style process ids, and release ids (R + capitals).
var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	processRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,127}$`)
	releaseRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,63}$`)
)

// rackCall is one rack API call an action makes.
type rackCall struct {
	Method, Path string // Path's segments escaped
	Form         url.Values
	What         string // the call in words, e.g. "restart service web"
}

// actionPlan is what one action will do, read from the rack for the
// confirmation page and made again for the post.
type actionPlan struct {
	Action   string // restart, scale, promote, stop
	Rack     string
	App      string
	AppURL   string // the app's console page
	URL      string // this action's page (GET) and form (POST)
	Title    string
	Summary  string   // exactly what will happen
	Facts    []fact   // the current state
	Warning  string   // e.g. a rollback
	Scale    bool     // the form asks for a count
	Count    int      // the count the form starts with
	Services []string // restart: the services restarted
	Calls    []rackCall
	Button   string
	Error    string // why the action cannot be offered (nothing to restart, ...)
}

type fact struct{ Name, Value string }

// actionResult is the result page.
type actionResult struct {
	Plan    *actionPlan
	OK      bool
	Done    []string // the calls made, in words
	Refusal string   // why it was refused or failed, in plain words
	Status  int
}

func (c *console) routesActions(mux *http.ServeMux) {
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/actions/{action}", c.page(c.actionConfirm))
	mux.HandleFunc("POST /racks/{rack}/apps/{app}/actions/{action}", c.action("/", c.actionPerform))
}

// selectRack selects the rack a /racks/{rack}/... page names, or answers
// 404 and returns false.
func (c *console) selectRack(q *request) bool {
	name := q.r.PathValue("rack")
	if !slices.Contains(c.o.Racks, name) {
		c.renderError(q.w, q.r, q, http.StatusNotFound, "Not found", "There is no rack of that name on this gateway.")
		return false
	}
	q.rack = name
	return true
}

// selectApp is selectRack for /racks/{rack}/apps/{app}/...: it also checks
// the app name.
func (c *console) selectApp(q *request) (string, bool) {
	if !c.selectRack(q) {
		return "", false
	}
	app := q.r.PathValue("app")
	if !nameRE.MatchString(app) {
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad request",
			"That is not an app name: app names are lowercase letters, digits and dashes.")
		return "", false
	}
	return app, true
}

// actionInput is what names the action's target, from the query string,
// checked.
type actionInput struct {
	action, app string
	service     string // restart (empty: every service), scale
	release     string // promote
	process     string // stop
}

// parseAction checks the action's name and target; the error is said to
// the person as it is.
func parseAction(action, app string, query url.Values) (actionInput, error) {
	in := actionInput{action: action, app: app}
	one := func(name string) (string, error) {
		if len(query[name]) > 1 {
			return "", fmt.Errorf("give one %s only", name)
		}
		return query.Get(name), nil
	}
	var err error
	switch action {
	case "restart", "scale":
		if in.service, err = one("service"); err != nil {
			return in, err
		}
		if in.service == "" && action == "scale" {
			return in, fmt.Errorf("name the service to scale")
		}
		if in.service != "" && !nameRE.MatchString(in.service) {
			return in, fmt.Errorf("%q is not a service name: service names are lowercase letters, digits and dashes",
				truncate(in.service, 80))
		}
	case "promote":
		if in.release, err = one("release"); err != nil {
			return in, err
		}
		if !releaseRE.MatchString(in.release) {
			return in, fmt.Errorf("%q is not a release id: release ids are capital letters and digits, like RABCDEFGHIJ",
				truncate(in.release, 80))
		}
	case "stop":
		if in.process, err = one("process"); err != nil {
			return in, err
		}
		if !processRE.MatchString(in.process) {
			return in, fmt.Errorf("%q is not a process id: process ids are lowercase letters, digits, dots and dashes",
				truncate(in.process, 80))
		}
	default:
		return in, errNoAction
	}
	return in, nil
}

var errNoAction = fmt.Errorf("there is no such action")

// probe is the rack call whose permission decides whether the action's
// page is offered.
func (in actionInput) probe() (method, path string) {
	app := "/apps/" + url.PathEscape(in.app)
	switch in.action {
	case "restart":
		svc := in.service
		if svc == "" {
			svc = "service" // the permission does not depend on the service
		}
		return http.MethodPost, app + "/services/" + url.PathEscape(svc) + "/restart"
	case "scale":
		return http.MethodPut, app + "/services/" + url.PathEscape(in.service)
	case "promote":
		return http.MethodPost, app + "/releases/" + url.PathEscape(in.release) + "/promote"
	default:
		return http.MethodDelete, app + "/processes/" + url.PathEscape(in.process)
	}
}

// actionStart does what the confirmation and the post share: the rack and
// the input, checked, and for the confirmation (offer) the permission. A
// post is decided by the proxy, which audits a refusal as it would the
// CLI's. It answers the request itself and returns false when the action
// cannot go on.
func (c *console) actionStart(q *request, offer bool) (actionInput, bool) {
	app, ok := c.selectApp(q)
	if !ok {
		return actionInput{}, false
	}
	in, err := parseAction(q.r.PathValue("action"), app, q.r.URL.Query())
	switch {
	case err == errNoAction:
		c.renderError(q.w, q.r, q, http.StatusNotFound, "Not found", "There is no such action.")
		return in, false
	case err != nil:
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad request", "Nothing was done: "+err.Error()+".")
		return in, false
	}
	if m, p := in.probe(); offer && !c.allows(q, m, p) {
		c.renderError(q.w, q.r, q, http.StatusForbidden, "Permission denied",
			fmt.Sprintf("Your role (%s on rack %s) does not allow this action.", q.p.RoleOn(q.rack), q.rack))
		return in, false
	}
	return in, true
}

// actionConfirm is the confirmation page.
func (c *console) actionConfirm(q *request) {
	in, ok := c.actionStart(q, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), 30*time.Second)
	defer cancel()
	plan, serr := c.plan(ctx, q, in)
	if serr != nil {
		c.readFailed(q, serr)
		return
	}
	c.render(q.w, q.r, q, http.StatusOK, "action_confirm", plan.Title, "", plan)
}

// readFailed answers a confirmation page whose state could not be read.
func (c *console) readFailed(q *request, serr *readErr) {
	status, title := http.StatusBadGateway, "Cannot read the rack"
	if serr.Denied {
		status, title = http.StatusForbidden, "Permission denied"
	}
	if serr.NotFound {
		status, title = http.StatusNotFound, "Not found"
	}
	c.renderError(q.w, q.r, q, status, title, "Nothing was done: "+serr.Msg)
}

// actionPerform makes the action's rack calls through the proxy and shows
// the result.
func (c *console) actionPerform(q *request) {
	in, ok := c.actionStart(q, false)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), 60*time.Second)
	defer cancel()
	plan, serr := c.plan(ctx, q, in)
	if serr != nil {
		c.readFailed(q, serr)
		return
	}
	if plan.Error != "" {
		c.renderError(q.w, q.r, q, http.StatusConflict, plan.Title, "Nothing was done: "+plan.Error)
		return
	}
	if plan.Scale {
		n, err := parseCount(q.r.PostForm["count"])
		if err != nil {
			c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad request", "Nothing was done: "+err.Error())
			return
		}
		plan.Calls[0].Form = url.Values{"count": {strconv.Itoa(n)}}
		plan.Calls[0].What = fmt.Sprintf("scale service %s from %d to %d processes", in.service, plan.Count, n)
	}
	res := actionResult{Plan: plan, OK: true, Status: http.StatusOK}
	for _, call := range plan.Calls {
		ans, err := c.o.Proxy.Act(ctx, proxy.RackAct{Rack: q.rack, Method: call.Method, Path: call.Path, Form: call.Form,
			Credential: q.token, For: q.r})
		if err != nil {
			c.log.Error("console: rack action", "err", err, "request_id", q.actor.RequestID)
			res.OK, res.Status = false, http.StatusBadGateway
			res.Refusal = "The rack's answer to \"" + call.What + "\" could not be read; check the app's state before trying again."
			break
		}
		if ans.Status >= 200 && ans.Status < 300 {
			res.Done = append(res.Done, call.What)
			continue
		}
		reason, level, msg := refusalOf(ans)
		if (reason == authz.ReasonStepUpRequired || reason == authz.ReasonMFAEnrollmentRequired) && !q.proved && len(res.Done) == 0 {
			// The step-up page re-posts this very form with the factor;
			// nothing was done yet, so nothing is done twice.
			c.fail(q, &admin.Error{Kind: admin.KindForbidden, Reason: reason, Msg: msg, MFALevel: level})
			return
		}
		res.OK, res.Status = false, ans.Status
		res.Refusal = refusalWords(reason, msg, call.What)
		break
	}
	c.render(q.w, q.r, q, res.Status, "action_result", plan.Title, "", res)
}

// parseCount checks a scale form's count.
func parseCount(vs []string) (int, error) {
	if len(vs) != 1 || vs[0] == "" {
		return 0, fmt.Errorf("give the number of processes (a whole number from 0 to %d)", maxScale)
	}
	n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
	if err != nil || n < 0 || n > maxScale {
		return 0, fmt.Errorf("%q is not a number of processes from 0 to %d", truncate(vs[0], 40), maxScale)
	}
	return n, nil
}

// refusalOf reads the proxy's (or the rack's) JSON error.
func refusalOf(ans proxy.RackAnswer) (authz.Reason, string, string) {
	var body struct {
		Error    string       `json:"error"`
		Reason   authz.Reason `json:"reason"`
		MFALevel string       `json:"mfa_level"`
	}
	if json.Unmarshal(ans.Body, &body) != nil || body.Error == "" {
		body.Error = strings.TrimSpace(truncate(string(ans.Body), 300))
	}
	if body.Error == "" {
		body.Error = http.StatusText(ans.Status)
	}
	return body.Reason, body.MFALevel, strings.TrimPrefix(body.Error, "rack-gateway: ")
}

// refusalWords says why a call was refused, in plain words.
func refusalWords(reason authz.Reason, msg, what string) string {
	switch reason {
	case authz.ReasonMissingPermission, authz.ReasonTokenScope, authz.ReasonUnknownRole:
		return "Refused: your role does not allow you to " + what + " (" + msg + ")."
	case authz.ReasonApprovalRequired:
		return "Refused: this needs a person's approval first (" + msg + ")."
	case authz.ReasonStepUpRequired:
		return "Refused: this needs a second factor with this very request, which the console cannot pass on; use the CLI (" + msg + ")."
	case authz.ReasonSessionExpired, authz.ReasonSessionRevoked, authz.ReasonUserDisabled:
		return "Refused: your session has ended; sign in again (" + msg + ")."
	case "":
		return "The rack refused to " + what + ": " + msg
	}
	return "Refused (" + string(reason) + "): " + msg
}

// plan reads what the action needs from the rack and says what will
// happen.
func (c *console) plan(ctx context.Context, q *request, in actionInput) (*actionPlan, *readErr) {
	appPath := "/apps/" + url.PathEscape(in.app)
	p := &actionPlan{Action: in.action, Rack: q.rack, App: in.app,
		AppURL: "/racks/" + url.PathEscape(q.rack) + "/apps/" + url.PathEscape(in.app),
		URL:    q.r.URL.Path + "?" + q.r.URL.RawQuery}
	if q.r.URL.RawQuery == "" {
		p.URL = q.r.URL.Path
	}
	switch in.action {
	case "restart", "scale":
		var svcs []actService
		if e := c.actRead(ctx, q, appPath+"/services", &svcs); e != nil {
			return nil, e
		}
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
		var procs []actProcess
		if e := c.actRead(ctx, q, appPath+"/processes", &procs); e != nil {
			procs = nil // the count below says "unknown"
		}
		running := func(svc string) string {
			if procs == nil {
				return "unknown"
			}
			n := 0
			for _, pr := range procs {
				if pr.Name == svc {
					n++
				}
			}
			return strconv.Itoa(n)
		}
		var chosen []actService
		for _, s := range svcs {
			if in.service == "" || s.Name == in.service {
				chosen = append(chosen, s)
			}
		}
		if in.service != "" && len(chosen) == 0 {
			return nil, &readErr{NotFound: true, Msg: fmt.Sprintf("app %s has no service %q.", in.app, in.service)}
		}
		for _, s := range chosen {
			p.Facts = append(p.Facts, fact{"Service " + s.Name, fmt.Sprintf("scale %d, %s running", s.Count, running(s.Name))})
		}
		if in.action == "scale" {
			s := chosen[0]
			p.Title = "Scale " + s.Name + " of " + in.app
			p.Summary = fmt.Sprintf("Set the number of processes of service %s of app %s on rack %s (now %d). "+
				"The rack starts or stops processes to match.", s.Name, in.app, q.rack, s.Count)
			p.Scale, p.Count, p.Button = true, s.Count, "Scale "+s.Name
			p.Calls = []rackCall{{Method: http.MethodPut, Path: appPath + "/services/" + url.PathEscape(s.Name),
				What: "scale service " + s.Name}}
			return p, nil
		}
		for _, s := range chosen {
			p.Services = append(p.Services, s.Name)
			p.Calls = append(p.Calls, rackCall{Method: http.MethodPost,
				Path: appPath + "/services/" + url.PathEscape(s.Name) + "/restart", What: "restart service " + s.Name})
		}
		if in.service == "" {
			p.Title = "Restart " + in.app
			p.Summary = fmt.Sprintf("Restart every process of every service of app %s on rack %s (%s): "+
				"each is replaced by a new one of the same release.", in.app, q.rack, strings.Join(p.Services, ", "))
			if len(chosen) == 0 {
				p.Error = "app " + in.app + " has no services to restart."
			}
		} else {
			p.Title = "Restart " + in.service + " of " + in.app
			p.Summary = fmt.Sprintf("Restart every process of service %s of app %s on rack %s: "+
				"each is replaced by a new one of the same release.", in.service, in.app, q.rack)
		}
		p.Button = "Restart"
	case "promote":
		var a actApp
		if e := c.actRead(ctx, q, appPath, &a); e != nil {
			return nil, e
		}
		var rel actRelease
		if e := c.actRead(ctx, q, appPath+"/releases/"+url.PathEscape(in.release), &rel); e != nil {
			return nil, e
		}
		p.Facts = []fact{{"Release", rel.Id}, {"Created", utcTime(rel.Created)}, {"Build", rel.Build},
			{"Description", rel.Description}, {"Current release", a.Release}}
		p.Title = "Promote " + rel.Id + " of " + in.app
		p.Summary = fmt.Sprintf("Make release %s the running release of app %s on rack %s: its processes are "+
			"replaced by ones of this release.", rel.Id, in.app, q.rack)
		p.Button = "Promote " + rel.Id
		if a.Release != "" && a.Release != rel.Id {
			var cur actRelease
			if e := c.actRead(ctx, q, appPath+"/releases/"+url.PathEscape(a.Release), &cur); e == nil &&
				rel.Created.Before(cur.Created) {
				p.Title = "Roll " + in.app + " back to " + rel.Id
				p.Warning = fmt.Sprintf("This is a rollback: release %s is older than the current release %s.", rel.Id, a.Release)
				p.Button = "Roll back to " + rel.Id
			}
		}
		if a.Release == rel.Id {
			p.Warning = rel.Id + " is already the current release: promoting it again replaces its processes."
		}
		p.Calls = []rackCall{{Method: http.MethodPost, Path: appPath + "/releases/" + url.PathEscape(rel.Id) + "/promote",
			What: "promote release " + rel.Id}}
	case "stop":
		var pr actProcess
		if e := c.actRead(ctx, q, appPath+"/processes/"+url.PathEscape(in.process), &pr); e != nil {
			return nil, e
		}
		p.Facts = []fact{{"Process", pr.Id}, {"Service", pr.Name}, {"Status", pr.Status}, {"Release", pr.Release},
			{"Started", utcTime(pr.Started)}}
		p.Title = "Stop " + pr.Id
		p.Summary = fmt.Sprintf("Stop process %s of app %s on rack %s. A process of a service is replaced by a new one; "+
			"a one-off process is gone.", pr.Id, in.app, q.rack)
		p.Button = "Stop " + pr.Id
		p.Calls = []rackCall{{Method: http.MethodDelete, Path: appPath + "/processes/" + url.PathEscape(pr.Id),
			What: "stop process " + pr.Id}}
	}
	return p, nil
}

func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// loadPages parses more pages with the layout (the action and log pages).
func (c *console) loadPages(names ...string) error {
	for _, name := range names {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		c.pages[name] = t
	}
	return nil
}
