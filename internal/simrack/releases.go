package simrack

import (
	"fmt"
	"strings"
	"time"
)

// releaseList is GET /apps/{app}/releases (query limit, default 10), newest
// first. Like the rack it returns each release's env.
func (r *Rack) releaseList(c *ctx) error {
	limit, err := optInt(c.query("limit"))
	if err != nil {
		return err
	}
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		n := 10
		if limit != nil {
			n = *limit
		}
		out := make([]apiRelease, 0, len(a.releaseOrder))
		for i := len(a.releaseOrder) - 1; i >= 0 && (n < 0 || len(out) < n); i-- {
			out = append(out, *a.releases[a.releaseOrder[i]])
		}
		return out, nil
	}))
}

func (r *Rack) releaseGet(c *ctx) error {
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		rel, err := a.release(c.Var("id"))
		if err != nil {
			return nil, err
		}
		return *rel, nil
	}))
}

// releaseCreate is POST /apps/{app}/releases (params build, env,
// description, parent-release). It forks the latest (or parent) release,
// exactly like the k8s provider: a build brings its manifest and
// description, an env change describes itself as "env add:… change:…".
func (r *Rack) releaseCreate(c *ctx) error {
	build, hasBuild := c.param("build")
	env, hasEnv := c.param("env")
	desc, hasDesc := c.param("description")
	parent, hasParent := c.param("parent-release")
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		base := a.latestRelease()
		if hasParent && parent != "" {
			p, err := a.release(parent)
			if err != nil {
				return nil, err
			}
			base = p
		}
		rel := &apiRelease{App: a.Name}
		if base != nil {
			*rel = *base
		}
		rel.Id = newID("R")
		rel.Created = time.Now().UTC()
		if hasBuild {
			rel.Build = build
		}
		if rel.Build != "" {
			b, err := a.build(rel.Build)
			if err != nil {
				return nil, err
			}
			rel.Description = b.Description
			rel.Manifest = b.Manifest
		}
		if hasEnv {
			if d := envDiff(rel.Env, env); strings.TrimSpace(d) != "" {
				rel.Description = fmt.Sprintf("env %s", strings.TrimSpace(d))
			}
			rel.Env = env
		}
		if hasDesc {
			rel.Description = desc
		}
		a.addRelease(rel)
		return *rel, nil
	}))
}

// releasePromote is POST /apps/{app}/releases/{id}/promote: the app switches
// to the release at once with status "updating", and becomes "running"
// after promoteDuration with its services and processes reconciled.
func (r *Rack) releasePromote(c *ctx) error {
	app, id := c.Var("app"), c.Var("id")
	_, err := r.withApp(app, func(a *appState) (any, error) {
		rel, err := a.release(id)
		if err != nil {
			return nil, err
		}
		a.Release = rel.Id
		a.Status = "updating"
		a.setServices(parseManifest(rel.Manifest), r.st.domain)
		return nil, nil
	})
	if err != nil {
		return err
	}
	time.AfterFunc(r.promoteDuration, func() {
		_, _ = r.withApp(app, func(a *appState) (any, error) {
			if a.Release == id && a.Status == "updating" {
				a.reconcile(r.st.instanceIDs())
				a.Status = "running"
			}
			return nil, nil
		})
	})
	return c.renderOK()
}
