// Package login lets people sign in with OpenID Connect, for the web console
// (a session cookie) and for the CLI (a session token the CLI claims with a
// PKCE verifier). Google Workspace is first-class: with the issuer
// https://accounts.google.com the hd claim must be present and in
// AllowedDomains, as well as the email's domain.
//
// Routes, mounted by package web under /auth/ and /api/v1/cli/login/:
//
//	GET  /auth/signin                 sign-in page (?return_to, ?error=code)
//	GET  /auth/login                  start a web login (?return_to, ?login_hint)
//	GET  /auth/cli                    confirm a CLI login (?request, ?challenge, ?name, ?login_hint)
//	POST /auth/cli                    start it (same parameters; cross-origin protected)
//	GET  /auth/callback               the IdP's redirect back (?code, ?state or ?error)
//	POST /auth/logout                 end the web session (cross-origin protected)
//	GET  /auth/static/login.css       the pages' stylesheet
//	POST /api/v1/cli/login/claim      the CLI claims its session (JSON)
//
// The login state is stored hashed (store.LoginRequest), bound to the
// browser by the rgw_login cookie (login CSRF defence) and single use. The
// gateway uses its own PKCE verifier towards the IdP and checks the ID
// token's signature, issuer, audience, expiry and nonce with go-oidc.
// Tokens, codes, states and verifiers are never logged or audited.
package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

const (
	// loginCookie binds a login in progress to the browser that started it.
	loginCookie = "rgw_login"
	// loginTTL is how long a login may take, from start to callback (and,
	// for the CLI, to the claim).
	loginTTL = 10 * time.Minute
	// GoogleIssuer is Google's OIDC issuer; with it the hd rules apply.
	GoogleIssuer = "https://accounts.google.com"
	// discoveryTimeout bounds provider discovery at start.
	discoveryTimeout = 15 * time.Second
)

// Store is what the login flows read and record: users, sessions and
// logins in progress.
type Store interface {
	store.Users
	store.Sessions
	store.LoginRequests
	store.Settings // the browser-binding key
}

// Options configures the login handler.
type Options struct {
	// PublicURL is the gateway's external base URL, e.g.
	// http://127.0.0.1:8447 or https://gw.example.com; the redirect URL is
	// PublicURL + "/auth/callback" and cookies are Secure when it is https.
	PublicURL string
	OIDC      config.OIDC
	Store     Store
	Authn     *authn.Authenticator
	Audit     *audit.Auditor
	Log       *slog.Logger
	// HTTPClient talks to the IdP (discovery, keys, token exchange);
	// default a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock (login expiry, ID token checks); default time.Now.
	Now func() time.Time

	// ProviderName is shown on the sign-in button; default "Google" for
	// Google's issuer, else the issuer's host.
	ProviderName string
	// HostedDomain applies the Google Workspace rules to another issuer:
	// the hd claim must be present and in AllowedDomains (when set), and the
	// first allowed domain is sent as the hd hint. Always on for
	// https://accounts.google.com. Tests use it with devidp.
	HostedDomain bool
	// SourceIP returns the client address recorded in sessions and audit
	// events; default the peer address. The gateway should pass its
	// trusted-proxy-aware function.
	SourceIP func(*http.Request) string
	// SecondFactor makes the browser step of a CLI login prove a second
	// factor (the console's challenge, with a web session) before the CLI
	// may claim its session, which then starts with that proof.
	SecondFactor bool
	// Starts limits, per client address, how many sign-ins (browser or
	// CLI) may be started: each stores a login request, so an anonymous
	// flood must not grow that table without bound. Nil: no limit.
	Starts Limiter
}

// Limiter is a per-address budget (limits.FailureLimiter): Blocked says
// whether the address has spent it, Failed spends one.
type Limiter interface {
	Blocked(addr string) (time.Duration, bool)
	Failed(addr string)
}

// Handler serves the login flows. Create it with New.
type Handler struct {
	o            Options
	log          *slog.Logger
	now          func() time.Time
	secure       bool
	publicOrigin string
	oauth        *oauth2.Config
	verifier     *oidc.IDTokenVerifier
	httpClient   *http.Client
	providerHost string
	providerName string
	hdRules      bool
	allowed      []string // lower-cased, in configured order
	autoEmails   map[string]bool
	autoDomains  map[string]bool
	groupRoles   map[string]string
	defaultRole  string
	csp          string
	cop          *http.CrossOriginProtection
	bindingKey   []byte // signs browser-binding cookies (binding.go)
	mux          *http.ServeMux
}

// New checks the options, discovers the provider and returns the handler.
func New(ctx context.Context, o Options) (*Handler, error) {
	if o.Store == nil || o.Authn == nil || o.Audit == nil {
		return nil, errors.New("login: Store, Authn and Audit are required")
	}
	h := &Handler{o: o, log: o.Log, now: o.Now, httpClient: o.HTTPClient}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.httpClient == nil {
		h.httpClient = &http.Client{Timeout: 30 * time.Second}
	}

	pub, err := url.Parse(strings.TrimRight(o.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" ||
		pub.Path != "" || pub.RawQuery != "" || pub.Fragment != "" || pub.User != nil {
		return nil, fmt.Errorf("login: RGW_PUBLIC_URL %q must be an origin like https://gateway.example.com", o.PublicURL)
	}
	h.secure = pub.Scheme == "https"
	h.publicOrigin = pub.Scheme + "://" + pub.Host

	oc := o.OIDC
	if oc.Issuer == "" {
		return nil, errors.New("login: RGW_OIDC_ISSUER is not set")
	}
	if oc.ClientID == "" {
		return nil, errors.New("login: RGW_OIDC_CLIENT_ID is not set")
	}
	iss, err := url.Parse(oc.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("login: RGW_OIDC_ISSUER %q is not a URL", oc.Issuer)
	}
	h.providerHost = iss.Host
	google := strings.TrimRight(oc.Issuer, "/") == GoogleIssuer
	h.hdRules = google || o.HostedDomain
	h.providerName = o.ProviderName
	if h.providerName == "" {
		h.providerName = iss.Host
		if google {
			h.providerName = "Google"
		}
	}

	h.defaultRole = oc.DefaultRole
	if h.defaultRole == "" {
		h.defaultRole = authz.RoleViewer
	}
	if err := authz.ValidRole(h.defaultRole); err != nil {
		return nil, fmt.Errorf("login: RGW_OIDC_DEFAULT_ROLE: %w", err)
	}
	h.groupRoles = make(map[string]string, len(oc.GroupRoles))
	for g, r := range oc.GroupRoles {
		if err := authz.ValidRole(r); err != nil {
			return nil, fmt.Errorf("login: oidc.group_roles: group %q: %w", g, err)
		}
		h.groupRoles[g] = r
	}
	for _, d := range oc.AllowedDomains {
		if d = normDomain(d); d != "" && !slices.Contains(h.allowed, d) {
			h.allowed = append(h.allowed, d)
		}
	}
	h.autoEmails = map[string]bool{}
	for _, e := range oc.AutoProvisionEmails {
		if e = store.NormalizeEmail(e); e != "" {
			h.autoEmails[e] = true
		}
	}
	h.autoDomains = map[string]bool{}
	for _, d := range oc.AutoProvisionDomains {
		if d = normDomain(d); d != "" {
			h.autoDomains[d] = true
		}
	}

	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, h.httpClient), discoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, oc.Issuer)
	if err != nil {
		return nil, fmt.Errorf("login: OIDC discovery for RGW_OIDC_ISSUER %q failed: %w", oc.Issuer, err)
	}
	scopes := oc.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	h.oauth = &oauth2.Config{
		ClientID:     oc.ClientID,
		ClientSecret: oc.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  h.publicOrigin + "/auth/callback",
		Scopes:       scopes,
	}
	h.verifier = provider.Verifier(&oidc.Config{ClientID: oc.ClientID, Now: h.now})
	if h.bindingKey, err = loadBindingKey(ctx, o.Store); err != nil {
		return nil, err
	}

	// The CLI confirmation form redirects to the IdP, which form-action
	// must allow (browsers apply it to redirects after a form submission).
	formAction := "'self'"
	if au, err := url.Parse(provider.Endpoint().AuthURL); err == nil && au.Host != "" {
		formAction += " " + au.Scheme + "://" + au.Host
	}
	h.csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"

	h.cop = http.NewCrossOriginProtection()
	if err := h.cop.AddTrustedOrigin(h.publicOrigin); err != nil {
		return nil, fmt.Errorf("login: RGW_PUBLIC_URL: %w", err)
	}
	h.cop.SetDenyHandler(http.HandlerFunc(h.crossOriginDenied))

	m := http.NewServeMux()
	m.HandleFunc("GET /auth/signin", h.signin)
	m.HandleFunc("GET /auth/login", h.startWeb)
	m.HandleFunc("GET /auth/cli", h.confirmCLI)
	m.Handle("POST /auth/cli", h.cop.Handler(http.HandlerFunc(h.startCLI)))
	m.HandleFunc("GET /auth/callback", h.callback)
	m.HandleFunc("GET /auth/cli/finish", h.finishCLI)
	m.Handle("POST /auth/logout", h.cop.Handler(http.HandlerFunc(h.logout)))
	m.HandleFunc("GET /auth/static/login.css", serveCSS)
	// Called by the CLI, not a browser: no cookies are read, and it takes
	// only application/json, which a cross-origin page cannot send without
	// a CORS preflight that this server never grants.
	m.HandleFunc("POST /api/v1/cli/login/claim", h.claim)
	m.HandleFunc("/", h.notFound)
	h.mux = m
	return h, nil
}

// ServeHTTP serves the login routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", h.csp)
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	h.render(w, http.StatusNotFound, page{Title: "Not found", Message: "There is nothing here.", Tone: "error",
		Links: []link{{Href: "/auth/signin", Text: "Sign in"}}})
}

// ---- helpers ----

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("login: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func normDomain(d string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "@")
}

// isB64URL reports whether s is unpadded base64url of length in [lo, hi].
func isB64URL(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validVerifier checks an RFC 7636 code verifier.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validCLIName: 1–64 characters of [A-Za-z0-9._-].
func validCLIName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// cleanHint returns a login_hint safe to pass to the IdP, or "".
func cleanHint(s string) string {
	if len(s) > 254 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return ""
		}
	}
	return s
}

func (h *Handler) sourceIP(r *http.Request) string {
	if h.o.SourceIP != nil {
		return h.o.SourceIP(r)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return r.RemoteAddr
}

func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return ua
}

// event starts an audit event for this request, by an anonymous actor
// until the identity is known.
func (h *Handler) event(r *http.Request, action string) *chain.Event {
	return &chain.Event{
		Time: h.now(), RequestID: audit.NewRequestID(), ActorType: "anonymous",
		SourceIP: h.sourceIP(r), UserAgent: userAgent(r), Method: r.Method, Path: r.URL.Path,
		Action: action, Decision: "allow", Reason: string(authz.ReasonAllowed),
	}
}

func setActor(ev *chain.Event, u *store.User) {
	ev.ActorType, ev.Actor, ev.ActorID, ev.Role = "user", u.Email, u.ID, u.Role
}

func (h *Handler) setLoginCookie(w http.ResponseWriter, value string) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: value, Path: "/auth/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(loginTTL / time.Second)})
}

func (h *Handler) clearLoginCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/auth/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// redirect answers with a Location as given (no path cleaning).
func redirect(w http.ResponseWriter, location string, status int) {
	w.Header().Set("Location", location)
	w.WriteHeader(status)
}
