package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
)

// envRelease is a release with its env, as the proxy filtered it for the
// caller: absent without env:read, secret values masked without
// secret:read.
type envRelease struct {
	Id  string  `json:"id"`
	Env *string `json:"env"`
}

type envVar struct{ Key, Value string }

type envData struct {
	Rack, App string
	Release   string
	Err       *sectionErr
	Withheld  bool // the proxy removed the env: the principal lacks env:read
	Vars      []envVar
	Revealed  bool // values are shown (the reveal form was posted)
	CanReveal bool // the policy grants env:read (values), per the role
	Secrets   bool // the policy grants secret:read (secret values unmasked)
	Action    string
}

// maskedValue stands for every value on the env page until revealed.
const maskedValue = "••••••••"

// envPage lists the keys of the app's current release's env, values
// masked.
func (c *console) envPage(q *request) { c.showEnv(q, false) }

// revealAction is the reveal form: the same page with values, as the proxy
// filters them for this person. A person whose role grants secret:read
// but whose second factor is not recent proves it first (the step-up page
// posts the form back). The page is never cached (actionAt), and values
// are never logged: the view's audit event names the reads only.
func (c *console) revealAction(w http.ResponseWriter, r *http.Request) {
	rack, app := r.PathValue("rack"), r.PathValue("app")
	if !slices.Contains(c.o.Racks, rack) || !validName.MatchString(app) {
		c.notFound(w, r)
		return
	}
	c.actionAt(gateSignedIn, appHref(rack, app)+"/env", c.onRack(c.reveal))(w, r)
}

func (c *console) reveal(q *request) {
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: authz.SecretRead, Rack: q.rack, App: q.r.PathValue("app")})
	if c.o.MFA != nil {
		err := &mfa.Forbidden{Decision: d}
		if level, ok := stepUpOf(err); ok {
			c.stepUp(q, level, err)
			return
		}
	}
	c.showEnv(q, true)
}

func (c *console) showEnv(q *request, reveal bool) {
	app := q.r.PathValue("app")
	rd := c.readsFor(q, "env", app)
	d := envData{Rack: q.rack, App: app, Revealed: reveal, Action: appHref(q.rack, app) + "/env/reveal"}
	d.CanReveal = c.holds(q, authz.EnvRead, app)
	d.Secrets = c.holds(q, authz.SecretRead, app)
	var info rackApp
	status := http.StatusOK
	if d.Err = rd.get("/apps/"+app, nil, &info); d.Err == nil && info.Release != "" {
		d.Release = info.Release
		var rel envRelease
		if !validName.MatchString(info.Release) {
			d.Err = &sectionErr{Msg: "the app's current release has an invalid id"}
		} else if d.Err = rd.get("/apps/"+app+"/releases/"+info.Release, nil, &rel); d.Err == nil {
			if rel.Env == nil {
				d.Withheld = true
			} else {
				d.Vars = parseEnv(*rel.Env, reveal)
			}
		}
	} else if d.Err != nil && !d.Err.Denied {
		status = http.StatusNotFound
	}
	defer rd.end(status)
	c.render(q.w, q.r, q, status, "env", "Environment · "+app, "/racks", d)
}

// parseEnv splits a release's env (KEY=value lines); values are kept only
// when shown.
func parseEnv(env string, withValues bool) []envVar {
	var out []envVar
	for line := range strings.SplitSeq(env, "\n") {
		k, v, _ := strings.Cut(line, "=")
		if k == "" {
			continue
		}
		if !withValues {
			v = maskedValue
		}
		out = append(out, envVar{Key: k, Value: v})
	}
	return out
}

// holds reports whether the principal's role (and scope) grants perm on
// the selected rack, whether or not a second factor is due first.
func (c *console) holds(q *request, perm authz.Permission, app string) bool {
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: perm, Rack: q.rack, App: app})
	return d.Allow || d.Reason == authz.ReasonStepUpRequired
}
