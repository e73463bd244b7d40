package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

//go:embed templates/*.html static/console.css static/webauthn.js
var assets embed.FS

type pageTemplate = template.Template

var funcs = template.FuncMap{
	"join": strings.Join,
	// when shows an RFC 3339 time in the one display format (timefmt;
	// "" stays empty).
	"when": func(s string) string {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return s
		}
		return timefmt.Display(t)
	},
	// utc shows a time in the one display format (timefmt).
	"utc":  timefmt.Display,
	"kind": mfa.KindLabel,
	// client names a User-Agent's browser and system ("" if unknown).
	"client": clientName,
	// switchTo is where the layout's rack selector goes from page path:
	// a rack page names its rack in the path, so "/" (which redirects to
	// the chosen rack's page); any other page takes ?rack=.
	"switchTo": func(path string) string {
		if strings.HasPrefix(path, "/racks/") {
			return "/"
		}
		return path
	},
}

func (c *console) loadAssets() error {
	css, err := assets.ReadFile("static/console.css")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(css)
	c.css, c.cssV = css, hex.EncodeToString(sum[:6])
	js, err := assets.ReadFile("static/webauthn.js")
	if err != nil {
		return err
	}
	sum = sha256.Sum256(js)
	c.js, c.jsV = js, hex.EncodeToString(sum[:6])
	c.pages = map[string]*pageTemplate{}
	for _, name := range []string{"error", "users", "tokens", "token_created", "account", "audit", "policy",
		"message", "mfa_prove", "mfa_enrol", "mfa_totp", "mfa_backup_codes", "approvals", "approval", "audit_event", "status"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		c.pages[name] = t
	}
	return nil
}

// serveCSS serves the stylesheet; pages link it with a content hash, so it
// may be cached for a long time.
func (c *console) serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "console.css", time.Time{}, bytes.NewReader(c.css))
}

// serveJS serves webauthn.js (the passkey pages' one script), linked with
// a content hash like the stylesheet.
func (c *console) serveJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "webauthn.js", time.Time{}, bytes.NewReader(c.js))
}

type navItem struct {
	Name, Href string
	Active     bool
}

// me is the signed-in person as the top bar shows them.
type me struct {
	Email    string
	Role     string
	RackRole string // the role on the selected rack, if it differs
	Nav      []navItem
}

// view is what the layout renders.
type view struct {
	Title   string
	Path    string // the current page, for the rack selector
	Me      *me
	Racks   []string
	Rack    string
	Flash   *flash
	CSS     string
	Script  string // webauthn.js, on the pages that offer passkeys
	Gated   bool   // the second factor comes first: no navigation
	Version string
	Data    any
}

type flash struct {
	Error bool
	Msg   string
}

// navFor lists the pages the principal's role may use (a step-up the
// page may ask for aside). It is a convenience only: every page and action
// authorizes on the server.
func (c *console) navFor(q *request, active string) []navItem {
	items := []struct {
		name, href string
		perm       authz.Permission
	}{
		{"Apps", rackHref(q.rack), ""},
		{"Racks", "/", ""},
		{"Approvals", "/approvals", authz.DeployRead},
		{"Users", "/users", authz.GatewayUsers},
		{"Tokens", "/tokens", authz.TokenSelf},
		{"Audit", "/audit", authz.GatewayAudit},
		{"Status", "/status", authz.GatewayAudit},
		{"Account", "/account", authz.GatewaySummary},
		{"Policy", "/policy", ""},
	}
	var out []navItem
	for _, it := range items {
		if it.perm != "" && !c.grants(q.p, it.perm) || it.href == "/approvals" && c.o.Approvals == nil ||
			it.name == "Racks" && len(c.o.Racks) == 1 {
			continue
		}
		href := it.href
		if it.name == "Apps" { // the rack pages: the rack is in the path
			out = append(out, navItem{Name: it.name, Href: href, Active: active == "/racks"})
			continue
		}
		if q.rack != c.o.Racks[0] {
			href += "?" + url.Values{"rack": {q.rack}}.Encode()
		}
		out = append(out, navItem{Name: it.name, Href: href, Active: it.href == active})
	}
	return out
}

// grants reports whether p's role grants perm, whether or not a step-up
// is due: what the navigation and the forms offer.
func (c *console) grants(p *authz.Principal, perm authz.Permission) bool {
	d := c.policy.Decide(authz.Request{Principal: p, Permission: perm})
	return d.Allow || d.Reason == authz.ReasonStepUpRequired
}

// render writes a page with the layout.
func (c *console) render(w http.ResponseWriter, r *http.Request, q *request, status int, name, title, active string, data any) {
	c.renderView(w, r, q, status, name, active, view{Title: title, Data: data})
}

// renderPage renders a page of an authenticated request; script: the page
// uses webauthn.js (and gets the policy that allows it).
func (c *console) renderPage(q *request, status int, name, title, active string, data any, script bool) {
	v := view{Title: title, Data: data}
	if script {
		v.Script = "/static/webauthn.js?v=" + c.jsV
		q.w.Header().Set("Content-Security-Policy", scriptPolicy)
	}
	c.renderView(q.w, q.r, q, status, name, active, v)
}

func (c *console) renderView(w http.ResponseWriter, r *http.Request, q *request, status int, name, active string, v view) {
	v.Path, v.Racks, v.CSS, v.Version = r.URL.Path, c.o.Racks, "/static/console.css?v="+c.cssV, c.o.Version
	if q != nil {
		m := &me{Email: q.p.Email, Role: q.p.Role}
		if v.Gated = c.gated(q.p); !v.Gated {
			m.Nav = c.navFor(q, active)
		}
		if rr := q.p.RoleOn(q.rack); rr != q.p.Role {
			m.RackRole = rr
		}
		v.Me, v.Rack = m, q.rack
		// A one-time message is for the page an action returned to, not
		// for an error page (such as the 404 of a browser's own
		// /favicon.ico, fetched while that page loads).
		if r.Method == http.MethodGet && status < 400 {
			v.Flash = c.takeFlash(w, r)
		}
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Message string
}

func (c *console) renderError(w http.ResponseWriter, r *http.Request, q *request, status int, title, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, q, status, "error", title, "", errorData{Status: status, Message: msg})
}

// message renders a page with a heading and one sentence.
func (c *console) message(q *request, status int, title, msg string) {
	c.render(q.w, q.r, q, status, "message", title, "", errorData{Status: status, Message: msg})
}

// statusOf maps an admin or mfa error to an HTTP status, as the JSON API
// does.
func statusOf(err error) int {
	var ae *admin.Error
	var mf *mfa.Forbidden
	switch {
	case errors.As(err, &mf), errors.Is(err, mfa.ErrNotSession):
		return http.StatusForbidden
	case errors.Is(err, mfa.ErrTrustOff):
		return http.StatusBadRequest
	case proofFailure(err) != http.StatusInternalServerError:
		return proofFailure(err)
	}
	if errors.As(err, &ae) {
		switch ae.Kind {
		case admin.KindInvalid:
			return http.StatusBadRequest
		case admin.KindForbidden:
			return http.StatusForbidden
		case admin.KindNotFound:
			return http.StatusNotFound
		case admin.KindConflict:
			return http.StatusConflict
		case admin.KindUnavailable:
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusInternalServerError
}

// fail renders a page-level error from the admin or mfa service. A
// refusal for want of a second factor is answered with the step-up
// (stepUp): the one place every page and action gets it from.
func (c *console) fail(q *request, err error) {
	if level, ok := stepUpOf(err); ok && c.o.MFA != nil {
		c.stepUp(q, level, err)
		return
	}
	status := statusOf(err)
	title := http.StatusText(status)
	msg := err.Error()
	if status == http.StatusForbidden {
		title = "Permission denied"
	}
	if status == http.StatusInternalServerError {
		c.log.Error("console", "err", err, "request_id", q.actor.RequestID)
		msg = "Something went wrong; the error was logged."
	}
	c.renderError(q.w, q.r, q, status, title, msg)
}

// done ends a form action: a refusal is a 403 page; any other error, or
// success, returns to the page with a flash message.
func (c *console) done(q *request, back, okMsg string, err error) {
	if err != nil {
		if statusOf(err) == http.StatusForbidden || statusOf(err) == http.StatusInternalServerError {
			c.fail(q, err)
			return
		}
		c.setFlash(q.w, flash{Error: true, Msg: err.Error()})
	} else {
		c.setFlash(q.w, flash{Msg: okMsg})
	}
	http.Redirect(q.w, q.r, back, http.StatusSeeOther)
}

const flashCookie = "rgw_flash"

// setFlash stores a one-time message for the next page in a short-lived
// cookie (so the message cannot be forged with a link).
func (c *console) setFlash(w http.ResponseWriter, f flash) {
	kind := "ok"
	if f.Error {
		kind = "err"
	}
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + truncate(f.Msg, 600)))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: "/", MaxAge: 60, HttpOnly: true,
		Secure: c.o.Secure, SameSite: http.SameSiteLaxMode})
}

func (c *console) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.o.Secure, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	kind, msg, ok := strings.Cut(string(b), ":")
	if !ok || msg == "" {
		return nil
	}
	return &flash{Error: kind == "err", Msg: msg}
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
