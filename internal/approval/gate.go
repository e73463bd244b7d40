package approval

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Call is a deploy step by an API token that the policy said needs an
// approval (authz.ReasonApprovalRequired), as the proxy sees it.
type Call struct {
	Principal *authz.Principal
	Rack, App string
	// Route is the rack API route's name (routes.Route.Name), Key its
	// object key and ID its release or build id, from the path.
	Route string
	Key   string
	ID    string
	// Form is the call's small form body (build options), if read.
	Form url.Values
	// Param reads one of the call's parameters (form, query or header, as
	// the rack reads them); nil reads nothing.
	Param func(name string) string
}

func (c Call) param(name string) string {
	if c.Param == nil {
		return ""
	}
	return c.Param(name)
}

// Denied is a deploy step an approval does not cover; Msg says what to do
// and RequestID names the request it was judged by (0: none).
type Denied struct {
	RequestID int64
	Msg       string
}

func (d *Denied) Error() string { return d.Msg }

// Grant is a deploy step an approval covers: the proxy forwards the call,
// hands the rack's answer to Response (the build id is read from it) and
// calls Finish with the outcome, which records the step on the request —
// or gives the step back when the call failed, so CI can retry it.
type Grant struct {
	s       *Service
	Request *store.DeployRequest
	// Step is what the call uses of the approval ("" for a check that
	// uses nothing, such as HEAD of the object).
	Step  store.DeployStep
	value string
	run   string // the allowed command of a run
	// inspect checks the upload's images as it streams (Rule.Images).
	inspect *deploycheck.Inspector
}

// Gate judges a deploy step of a token against the token's latest request
// for the app. It claims the step before the call goes to the rack, so two
// uploads or builds racing under one approval cannot both pass.
func (s *Service) Gate(ctx context.Context, c Call) (*Grant, error) {
	p := c.Principal
	if p == nil || p.Kind != authz.KindToken {
		return nil, &Denied{Msg: "rack-gateway: this deploy step needs a person's approval"}
	}
	d, err := s.st.LatestDeployRequest(ctx, p.TokenID, c.Rack, c.App)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Denied{Msg: "rack-gateway: deploys of " + c.App + " on rack " + c.Rack + " need a person's approval; ask for one with " +
			"`rack-gateway deploy-approval request --rack " + c.Rack + " --app " + c.App + " --commit <sha> --wait`"}
	} else if err != nil {
		return nil, s.unavailable("read the token's request", err)
	}
	ref := "deploy approval request #" + itoa(d.ID)
	deny := func(msg string) (*Grant, error) { return nil, &Denied{RequestID: d.ID, Msg: "rack-gateway: " + msg} }
	if c.Route == "ProcessRun" {
		return s.gateRun(c, d, ref)
	}
	switch st := d.Effective(s.now()); st {
	case store.DeployPending:
		return deny(ref + " is waiting for approval (" + itoa(int64(len(d.Approvals))) + " of " + itoa(int64(d.Needed)) +
			"); approve it at " + s.Link(d.ID))
	case store.DeployRejected:
		return deny(ref + " was rejected; ask again with a new request")
	case store.DeployDeployed:
		return deny(ref + " was deployed already (release " + d.ReleaseID + "); each approval covers one deploy")
	case store.DeployExpired:
		return deny(ref + " expired; ask again with a new request")
	}
	g := &Grant{s: s, Request: d}
	switch c.Route {
	case "ObjectExists":
		return g, nil // the CLI's check before an upload; uses nothing
	case "ObjectStore":
		g.Step, g.value = store.StepObject, c.Key
		if d.ObjectKey != "" {
			return deny(ref + " has uploaded its source already (" + d.ObjectKey + "); one upload per approval")
		}
	case "BuildCreate":
		if d.ObjectKey == "" && d.SourceCheck != "" {
			return deny(ref + ": the uploaded source failed the app's image check (" + d.SourceCheck + "); upload a source that passes")
		}
		src := c.Form.Get("url")
		if d.ObjectKey == "" || d.ObjectKey == store.StepPending || src != "object://"+c.App+"/"+d.ObjectKey {
			return deny(ref + " covers one build of the source it uploaded (object://" + c.App + "/" + d.ObjectKey + "), not " + quote(src))
		}
		if sha := strings.ToLower(c.Form.Get("git-sha")); sha != "" && (len(sha) < 7 || !strings.HasPrefix(d.Commit, sha)) {
			return deny(ref + " approved commit " + d.Commit + ", but the build is of commit " + quote(sha))
		}
		if desc := c.Form.Get("description"); desc != "" && !mentions(desc, d.Commit) {
			return deny(ref + " approved commit " + d.Commit + ", but the build's description names another: " + quote(desc))
		}
		if d.BuildID != "" {
			return deny(ref + " has built already (" + d.BuildID + "); one build per approval")
		}
		// The image check read convox.yml; a build of another manifest in
		// the same source would not be what was checked.
		if m := c.Form.Get("manifest"); m != "" && m != "convox.yml" {
			if rule := s.cfg.Rules.Match(d.Rack, d.App); rule != nil && rule.Images != nil {
				return deny(ref + ": the app's image check covers convox.yml, not manifest " + quote(m))
			}
		}
		g.Step, g.value = store.StepBuild, store.StepPending
	case "ReleasePromote":
		if d.BuildID == "" || d.BuildID == store.StepPending {
			return deny(ref + " covers promoting the release of its build, and there is no build yet")
		}
		if s.builds == nil {
			return deny("the release of the approved build cannot be checked on this gateway")
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		release, err := s.builds.BuildRelease(rctx, c.Rack, c.App, d.BuildID)
		cancel()
		if err != nil {
			s.log.Warn("approval: read the approved build's release", "build", d.BuildID, "err", err)
			return deny("the release of build " + d.BuildID + " could not be read from the rack; try again")
		}
		if release == "" || release != c.ID {
			return deny(ref + " covers promoting release " + orNone(release) + " (built from " + d.BuildID + "), not " + quote(c.ID))
		}
		g.Step, g.value = store.StepRelease, c.ID
	default:
		return deny(ref + " covers uploading the source, one build of it and promoting its release (convox deploy / convox build); not " + c.Route)
	}
	if err := s.st.ClaimDeployStep(ctx, d.ID, g.Step, g.value); errors.Is(err, store.ErrConflict) {
		return deny(ref + ": its " + string(g.Step) + " step was used already, is in progress, or its window has ended")
	} else if err != nil {
		return nil, s.unavailable("claim a deploy step", err)
	}
	if rule := s.cfg.Rules.Match(d.Rack, d.App); g.Step == store.StepObject && rule != nil && rule.Images != nil {
		g.inspect = rule.Images.Inspector(d.Commit)
	}
	return g, nil
}

// Body is the call's request body as the rack should get it: an upload
// whose images are checked is read through the inspector on its way.
func (g *Grant) Body(body io.ReadCloser) io.ReadCloser {
	if g.inspect == nil || body == nil {
		return body
	}
	return &inspected{ReadCloser: body, r: io.TeeReader(body, g.inspect)}
}

type inspected struct {
	io.ReadCloser
	r io.Reader
}

func (b *inspected) Read(p []byte) (int, error) { return b.r.Read(p) }

// gateRun judges a `convox run` of the approved token: a command the
// app's rule allows, on the app's own images, while the approval's window
// is open (before or after the promote).
func (s *Service) gateRun(c Call, d *store.DeployRequest, ref string) (*Grant, error) {
	deny := func(msg string) (*Grant, error) { return nil, &Denied{RequestID: d.ID, Msg: "rack-gateway: " + msg} }
	open := (d.Status == store.DeployApproved || d.Status == store.DeployDeployed) && s.now().Before(d.WindowEndsAt)
	if !open {
		return deny(ref + " is " + d.Effective(s.now()) + ": runs under an approval need its window open")
	}
	rule := s.cfg.Rules.Match(d.Rack, d.App)
	cmd := strings.TrimSpace(c.param("command"))
	if rule == nil || !slices.Contains(rule.RunCommands, cmd) {
		return deny("the approval rule for " + c.App + " does not allow running " + quote(cmd) + " (run_commands)")
	}
	if c.param("image") != "" {
		return deny("a run under an approval uses the app's own release, not another image")
	}
	if rel := c.param("release"); rel != "" && rel != d.ReleaseID {
		return deny("a run under an approval uses the approved release, not " + quote(rel))
	}
	g := &Grant{s: s, Request: d}
	g.run = cmd
	return g, nil
}

// NeedsResponse reports whether Response must see the rack's answer (a
// build's id comes back in it).
func (g *Grant) NeedsResponse() bool { return g.Step == store.StepBuild }

// Response reads what the step recorded from the rack's successful answer
// and puts the body back for the caller.
func (g *Grant) Response(resp *http.Response) error {
	if g.Step != store.StepBuild || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	var b struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &b) == nil && b.ID != "" && len(b.ID) <= 128 {
		g.value = b.ID
	}
	return nil
}

// Finish records the step with the call's outcome: a 2xx answer uses it
// (a promote makes the request deployed), anything else gives it back.
func (g *Grant) Finish(ctx context.Context, status int) {
	if g.Step == "" {
		return
	}
	ok := status >= 200 && status <= 299 && g.value != store.StepPending
	if g.inspect != nil && !g.checkSource(ctx, ok) {
		ok = false
	}
	claimed := g.value
	if g.Step == store.StepBuild {
		claimed = store.StepPending
	}
	ctx = context.WithoutCancel(ctx)
	var err error
	if ok {
		err = g.s.st.FinishDeployStep(ctx, g.Request.ID, g.Step, g.value, true)
	} else {
		err = g.s.st.FinishDeployStep(ctx, g.Request.ID, g.Step, claimed, false)
	}
	if err != nil {
		g.s.log.Error("approval: finish a deploy step", "request", g.Request.ID, "step", g.Step, "err", err)
		return
	}
	if ok && g.Step == store.StepRelease {
		d, err := g.s.st.GetDeployRequest(ctx, g.Request.ID)
		if err == nil {
			g.s.audit.Record(g.s.event(Actor{}, "deploy.deployed", authz.ReleasePromote, d, map[string]any{
				"object_key": d.ObjectKey, "build_id": d.BuildID, "release_id": d.ReleaseID}))
			g.s.tell(ctx, EventDeployed, d, d.Requester)
		}
	}
}

// checkSource ends the upload's inspection and records its verdict on the
// request; a failing upload is not the approved source (the step is given
// back, and builds are refused until an upload passes). It reports
// whether the upload passed.
func (g *Grant) checkSource(ctx context.Context, uploaded bool) bool {
	_ = g.inspect.Close()
	v := g.inspect.Result()
	g.inspect = nil
	if !uploaded {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	verdict := ""
	if !v.OK {
		verdict = v.Reason
	}
	if err := g.s.st.SetSourceCheck(ctx, g.Request.ID, verdict); err != nil {
		g.s.log.Error("approval: record the source check", "request", g.Request.ID, "err", err)
		return false
	}
	ev := g.s.event(Actor{}, "deploy.source_check", authz.ObjectWrite, g.Request, map[string]any{
		"object_key": g.value, "images": v.Images, "build_only": v.BuildOnly, "verdict": v.Reason})
	if !v.OK {
		ev.Decision, ev.Reason, ev.Status = "deny", string(ReasonSourceCheck), 403
	}
	g.s.audit.Record(ev)
	return v.OK
}

// Details are what the call's audit record says of the approval.
func (g *Grant) Details() map[string]any {
	m := map[string]any{"request_id": g.Request.ID, "commit": g.Request.Commit}
	if g.Step != "" {
		m["step"] = string(g.Step)
	}
	if g.run != "" {
		m["run"] = g.run
	}
	return m
}

// mentions reports whether a build description names the commit (in full
// or by a prefix of at least 7 hex digits, as `git describe` and CI tools
// abbreviate it).
func mentions(desc, commit string) bool {
	desc = strings.ToLower(desc)
	for _, f := range strings.FieldsFunc(desc, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f')
	}) {
		if len(f) >= 7 && strings.HasPrefix(commit, f) {
			return true
		}
	}
	return false
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "(none yet)"
	}
	return s
}
