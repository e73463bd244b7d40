// Package console is the gateway's web console: server-rendered pages (no
// build step; no script but webauthn.js on the passkey pages and logs.js on
// the live log page) for the racks and their apps (builds, releases, env,
// actions, live logs), users, API tokens, one's account, the audit log and the access
// policy, and, with Options.MFA, second factors: enrolment, the sign-in
// challenge and step-up (mfa*.go). The principal comes only from the web
// session cookie; every page and action is authorized on the server, by
// admin.Service, mfa.Service or the proxy for rack reads (all through the
// one authz.Policy), whatever the navigation shows. Rack data is read
// through the proxy so the same policy, response filters and audit apply
// as for the convox CLI.
package console

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/store"
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
	// Proxy serves the rack reads behind the rack pages, so the same policy,
	// filters and audit apply.
	Proxy *proxy.Handler
	// Racks are the configured rack names, the default rack first.
	Racks []string
	// MFA proves and manages people's second factors; nil: the console has
	// no second-factor pages and asks for none.
	MFA *mfa.Service
	// Approvals is the deploy approval service; nil: the console has no
	// approval pages.
	Approvals *approval.Service
	// TrustDays is how long "trust this browser" spares the sign-in second
	// factor (mfa.trusted_device_days); 0: not offered.
	TrustDays int
	// PublicURL is the gateway's external base URL (config public_url),
	// e.g. https://gateway.example.com: the token-created page's RACK_URL
	// and RACK_GATEWAY_URL are made from it. Empty: from the scheme the
	// console is served with (Secure) and the request's host.
	PublicURL string
	// AuditStore reads the audit log's activity, single events and
	// checkpoints for the explorer's chart and event pages; nil: they say
	// they are unavailable. Pages authorize (gateway:audit) before reading.
	AuditStore store.AuditStats
	// AuditKey is the checkpoint public key: event pages check the
	// covering checkpoint's signature with it (nil: not checked).
	AuditKey ed25519.PublicKey
	// Anchors reads anchor objects, so an event page can compare its
	// checkpoint with the anchored one (nil: not read).
	Anchors AnchorReader
	// Status reports the gateway's state for the admins' /status page;
	// nil: the page says it is unavailable.
	Status func(ctx context.Context) (StatusReport, error)
	// LogStreamLimit bounds one followed log stream (0:
	// DefaultLogStreamLimit).
	LogStreamLimit time.Duration
	// Secure: the console is served over https (cookie attributes).
	Secure  bool
	Version string
	Log     *slog.Logger
}

// contentSecurityPolicy allows the embedded stylesheet and same-origin
// forms only: no script, no inline style, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// scriptPolicy is the policy of the pages that offer passkeys: the same,
// plus the embedded webauthn.js and its same-origin fetch of options.
const scriptPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

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
	js     []byte // webauthn.js
	jsV    string
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
	mux.HandleFunc("GET /policy", c.page(c.policyPage))
	// The audit explorer's event pages and the admins' status page.
	mux.HandleFunc("GET /audit/events/{seq}", c.page(c.auditEvent))
	mux.HandleFunc("GET /status", c.page(c.status))
	// The rack, app, build, release and env pages, and "/" (racks.go).
	if err := c.routesRacks(mux); err != nil {
		return nil, err
	}
	if o.MFA != nil {
		c.routesMFA(mux)
	}
	if o.Approvals != nil {
		c.routesApprovals(mux)
	}
	// Rack actions and live logs (actions.go, logs.go).
	if err := c.loadPages("action_confirm", "action_result", "logs"); err != nil {
		return nil, err
	}
	c.routesActions(mux)
	c.routesLogs(mux)
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
	// proved is set when this very request carried a second factor that
	// was verified (an action re-posted from the step-up page).
	proved bool
}

type handlerFunc func(q *request)

// authenticate resolves the session cookie or answers the request
// (redirect to sign-in, to the second factor's enrolment or challenge
// (admit), or 503) and returns nil.
func (c *console) authenticate(w http.ResponseWriter, r *http.Request, returnTo string, g gate) *request {
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
	q := c.newRequest(w, r, res.Principal)
	w.Header().Set("X-Request-Id", q.actor.RequestID)
	if !c.admit(q, returnTo, g) {
		return nil
	}
	return q
}

// newRequest is the request of principal p, resolved from the session
// cookie.
func (c *console) newRequest(w http.ResponseWriter, r *http.Request, p *authz.Principal) *request {
	ck, _ := r.Cookie(websession.CookieName)
	q := &request{w: w, r: r, p: p, token: ck.Value, rack: c.o.Racks[0]}
	if name := r.URL.Query().Get("rack"); name != "" && slices.Contains(c.o.Racks, name) {
		q.rack = name
	}
	q.actor = admin.Actor{Principal: p, SourceIP: c.o.ClientIP.IP(r), UserAgent: truncate(r.UserAgent(), 256),
		RequestID: audit.NewRequestID()}
	return q
}

// signedIn is the signed-in person of a page that answers everyone (the
// 404 page, a refused cross-site post), so that it keeps their top bar;
// nil for a visitor, or a session that has ended or cannot be checked
// now. Unlike authenticate it never redirects, clears no cookie and has
// no gate: for a person who still owes a second factor the layout shows
// who they are but no navigation (view.Gated).
func (c *console) signedIn(w http.ResponseWriter, r *http.Request) *request {
	res, err := websession.Authenticate(r.Context(), c.o.Authn, r)
	if err != nil || res.Principal == nil {
		return nil
	}
	return c.newRequest(w, r, res.Principal)
}

// page wraps a GET page: authenticate, no caching of data.
func (c *console) page(f handlerFunc) http.HandlerFunc { return c.pageAt(gateSignedIn, f) }

func (c *console) pageAt(g gate, f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q := c.authenticate(w, r, r.URL.RequestURI(), g)
		if q == nil {
			return
		}
		f(q)
	}
}

// action wraps a form POST; back is the page it returns to (and where the
// sign-in flow returns to if the session has ended).
func (c *console) action(back string, f handlerFunc) http.HandlerFunc {
	return c.actionAt(gateSignedIn, back, f)
}

// actionAt is action for a gate. A post re-sent from the step-up page
// carries a second factor (mfa_prove.go's hasProof): it is verified first,
// and then the action runs with its original fields, so nothing typed is
// lost. A refusal for want of a second factor is answered by fail, which
// shows the step-up page in place of the action's answer.
func (c *console) actionAt(g gate, back string, f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q := c.authenticate(w, r, back, g)
		if q == nil {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			c.renderError(w, r, q, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		if c.o.MFA != nil && hasProof(r.PostForm) && !c.proveInline(q) {
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
	q := c.signedIn(w, r)
	if q != nil {
		p := q.p
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role = string(p.Kind), p.Email, p.UserID, p.Role
	}
	c.o.Admin.Audit.Record(ev)
	w.Header().Set("X-Request-Id", ev.RequestID)
	c.renderError(w, r, q, http.StatusForbidden, "Cross-site request refused",
		"This request came from another site, so it was not carried out. Use the forms on this console.")
}

// notFound answers an address the console has no page at: with the top
// bar (navigation, who is signed in) for a signed-in person, a plain page
// with a sign-in link for anyone else.
func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c.renderError(w, r, c.signedIn(w, r), http.StatusNotFound, "Not found", "There is no console page at this address.")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
