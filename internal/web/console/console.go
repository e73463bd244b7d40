// Package console is the gateway's web console: server-rendered pages (no
// build step, no script) for the rack overview, users, API tokens, one's
// account and the audit log. The principal comes only from the web session
// cookie; every page and action is authorized on the server, by
// admin.Service or by the proxy for rack reads (both through the one
// authz.Policy), whatever the navigation shows. Rack data is read through the proxy so the
// same policy, response filters and audit apply as for the convox CLI.
package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// Options configure the console.
type Options struct {
	Admin *admin.Service
	Authn *authn.Authenticator
	// Policy decides what pages show (nil: roles only); the services
	// behind them decide again, with the same policy.
	Policy *authz.Policy
	// ClientIP resolves callers' addresses (nil: the peer's).
	ClientIP *clientip.Resolver
	// Proxy serves the rack reads behind the overview, so the same policy,
	// filters and audit apply.
	Proxy *proxy.Handler
	// Racks are the configured rack names, the default rack first.
	Racks []string
	// Secure: the console is served over https (cookie attributes).
	Secure  bool
	Version string
	Log     *slog.Logger
}

// contentSecurityPolicy allows the embedded stylesheet and same-origin
// forms only: no script, no inline style, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// signinPath is the login flow's entry (another package, mounted at /auth/).
const signinPath = "/auth/signin"

// signinErrors are the sign-in page's ?error= codes for why a session
// no longer works.
var signinErrors = map[authz.Reason]string{
	authz.ReasonSessionExpired: "expired",
	authz.ReasonSessionRevoked: "revoked",
	authz.ReasonUserDisabled:   "disabled",
}

type console struct {
	o      Options
	policy *authz.Policy
	log    *slog.Logger
	pages  map[string]*pageTemplate
	css    []byte
	cssV   string // content hash, appended to the stylesheet URL
}

// New returns the console handler, to be mounted at "/".
func New(o Options) (http.Handler, error) {
	switch {
	case o.Admin == nil:
		return nil, errors.New("console: Admin is required")
	case o.Authn == nil:
		return nil, errors.New("console: Authn is required")
	case o.Proxy == nil:
		return nil, errors.New("console: Proxy is required")
	case len(o.Racks) == 0:
		return nil, errors.New("console: at least one rack is required")
	}
	c := &console{o: o, policy: o.Policy, log: o.Log}
	if c.policy == nil {
		c.policy = &authz.Policy{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.loadAssets(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/console.css", c.serveCSS)
	mux.HandleFunc("GET /{$}", c.page(c.overview))
	mux.HandleFunc("GET /users", c.page(c.users))
	mux.HandleFunc("POST /users", c.action("/users", c.createUser))
	mux.HandleFunc("POST /users/role", c.action("/users", c.setUserRole))
	mux.HandleFunc("POST /users/status", c.action("/users", c.setUserStatus))
	mux.HandleFunc("POST /users/rack-role", c.action("/users", c.setUserRackRole))
	mux.HandleFunc("POST /users/revoke-sessions", c.action("/users", c.revokeUserSessions))
	mux.HandleFunc("GET /tokens", c.page(c.tokens))
	mux.HandleFunc("POST /tokens", c.action("/tokens", c.createToken))
	mux.HandleFunc("POST /tokens/{id}/revoke", c.action("/tokens", c.revokeToken))
	mux.HandleFunc("GET /account", c.page(c.account))
	mux.HandleFunc("POST /account/sessions/{id}/revoke", c.action("/account", c.revokeSession))
	mux.HandleFunc("GET /audit", c.page(c.audit))
	mux.HandleFunc("GET /audit/export", c.page(c.auditExport))
	mux.HandleFunc("/", c.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.crossSiteRefused))
	inner := cop.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		inner.ServeHTTP(w, r)
	}), nil
}

// request is one authenticated console request.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	p     *authz.Principal
	actor admin.Actor
	token string // the session token, for internal requests through the proxy
	rack  string // the selected rack (?rack=), default the first
}

type handlerFunc func(q *request)

// authenticate resolves the session cookie or answers the request
// (redirect to sign-in, or 503) and returns nil.
func (c *console) authenticate(w http.ResponseWriter, r *http.Request, returnTo string) *request {
	res, err := websession.Authenticate(r.Context(), c.o.Authn, r)
	if err != nil {
		c.log.Error("console: cannot check session", "err", err)
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable",
			"The gateway cannot check your session right now. Try again shortly.")
		return nil
	}
	if res.Principal == nil {
		if res.Reason != authz.ReasonUnauthenticated {
			websession.Clear(w, c.o.Secure)
		}
		v := url.Values{"return_to": {returnTo}}
		if code := signinErrors[res.Reason]; code != "" {
			v.Set("error", code)
		}
		http.Redirect(w, r, signinPath+"?"+v.Encode(), http.StatusSeeOther)
		return nil
	}
	ck, _ := r.Cookie(websession.CookieName)
	q := &request{w: w, r: r, p: res.Principal, token: ck.Value, rack: c.o.Racks[0]}
	if name := r.URL.Query().Get("rack"); name != "" && slices.Contains(c.o.Racks, name) {
		q.rack = name
	}
	q.actor = admin.Actor{Principal: res.Principal, SourceIP: c.o.ClientIP.IP(r), UserAgent: truncate(r.UserAgent(), 256),
		RequestID: audit.NewRequestID()}
	w.Header().Set("X-Request-Id", q.actor.RequestID)
	return q
}

// page wraps a GET page: authenticate, no caching of data.
func (c *console) page(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q := c.authenticate(w, r, r.URL.RequestURI())
		if q == nil {
			return
		}
		f(q)
	}
}

// action wraps a form POST; back is the page it returns to (and where the
// sign-in flow returns to if the session has ended).
func (c *console) action(back string, f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q := c.authenticate(w, r, back)
		if q == nil {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			c.renderError(w, r, q, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		f(q)
	}
}

// crossSiteRefused answers and audits a form post from another site's
// page. Such a post carries no session cookie (SameSite=Lax), so the
// refusal names the caller only when it does.
func (c *console) crossSiteRefused(w http.ResponseWriter, r *http.Request) {
	ev := &chain.Event{Time: time.Now(), RequestID: audit.NewRequestID(), ActorType: "anonymous", Actor: "anonymous",
		SourceIP: c.o.ClientIP.IP(r), UserAgent: truncate(r.UserAgent(), 256), Method: r.Method,
		Path: truncate(r.URL.Path, 512), Action: "console.form", Decision: "deny",
		Reason: string(authz.ReasonCrossOrigin), Status: http.StatusForbidden}
	if res, err := websession.Authenticate(r.Context(), c.o.Authn, r); err == nil && res.Principal != nil {
		p := res.Principal
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role = string(p.Kind), p.Email, p.UserID, p.Role
	}
	c.o.Admin.Audit.Record(ev)
	w.Header().Set("X-Request-Id", ev.RequestID)
	c.renderError(w, r, nil, http.StatusForbidden, "Cross-site request refused",
		"This request came from another site, so it was not carried out. Use the forms on this console.")
}

func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c.renderError(w, r, nil, http.StatusNotFound, "Not found", "There is no console page at this address.")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
