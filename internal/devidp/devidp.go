// Package devidp is a small but real OpenID Connect provider for
// development mode and tests.
//
// It implements the authorization-code flow with PKCE (S256 only),
// discovery, a JWKS endpoint, a token endpoint with client_secret_basic
// and client_secret_post client authentication, and a userinfo endpoint.
// ID tokens are RS256 JWTs signed with a key generated at New, so a
// relying party built on coreos/go-oidc and golang.org/x/oauth2 runs
// against it unchanged: nothing here is a bypass of the login code.
//
// The sign-in page lists the configured users as buttons; there is no
// password. It is for development and tests only and must never be
// exposed beyond loopback: Start refuses non-loopback addresses.
//
// Test hooks (NextToken, Config.Now, Config.AutoApprove) let tests of a
// relying party produce specific bad or headless cases.
package devidp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Lifetimes that are fixed by design.
const (
	// codeTTL is how long an authorization code may be redeemed.
	codeTTL = 60 * time.Second
	// pendingTTL is how long a rendered sign-in page stays valid.
	pendingTTL = 10 * time.Minute
	// defaultTokenTTL is the ID and access token lifetime when
	// Config.TokenTTL is zero.
	defaultTokenTTL = 5 * time.Minute
)

// User is an identity the provider can sign in as.
type User struct {
	// Email is the user's address and the login_hint that selects it.
	// Required and unique (case-insensitively).
	Email string
	// Name is the display name ("name" claim).
	Name string
	// HD is the hosted domain ("hd" claim), omitted when empty.
	HD string
	// EmailVerified is the "email_verified" claim.
	EmailVerified bool
	// Groups is the "groups" claim, omitted when empty.
	Groups []string
	// Subject is the "sub" claim. When empty, New derives a stable
	// subject from the lower-cased email.
	Subject string
}

// Client is a registered relying party.
type Client struct {
	// Secret is the client secret; required.
	Secret string
	// RedirectURIs are the exact redirect URIs the client may use.
	RedirectURIs []string
}

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer URL without a trailing slash, e.g.
	// "http://127.0.0.1:5556". A path is allowed; Handler then serves
	// the endpoints under that path. When empty, Start derives it from
	// the listener, and Handler (if used without Start) derives it from
	// each request's Host as "http://<host>".
	Issuer string
	// Users are the identities offered on the sign-in page.
	Users []User
	// Clients maps client_id to its registration.
	Clients map[string]Client
	// TokenTTL is the ID and access token lifetime; default 5m.
	TokenTTL time.Duration
	// AutoApprove, for headless tests, lets an authorization request
	// carrying login_hint=<a configured user's email> be approved
	// without showing the sign-in page. Without it, prompt=none always
	// fails with login_required.
	AutoApprove bool
	// Now is the clock; default time.Now. Tests use it to expire codes
	// and tokens.
	Now func() time.Time
}

// Provider is an OpenID Connect provider. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	users    []User
	byEmail  map[string]int // lower-cased email → index into users
	clients  map[string]Client
	tokenTTL time.Duration
	now      func() time.Time

	key    *rsa.PrivateKey
	jwk    jose.JSONWebKey // public
	signer jose.Signer

	handler http.Handler

	mu       sync.Mutex
	issuer   string // set by New or Start; "" means derive per request
	pending  map[string]*pendingAuth
	codes    map[string]*authCode
	tokens   map[string]*accessToken
	mutators []func(map[string]any)
	srv      *http.Server
	started  bool
}

// DemoUsers returns the standard development users: admin@, deployer@,
// ops@ and viewer@example.com, all verified with hosted domain
// example.com.
func DemoUsers() []User {
	mk := func(local, name string) User {
		return User{
			Email:         local + "@example.com",
			Name:          name,
			HD:            "example.com",
			EmailVerified: true,
		}
	}
	return []User{
		mk("admin", "Demo Admin"),
		mk("deployer", "Demo Deployer"),
		mk("ops", "Demo Ops"),
		mk("viewer", "Demo Viewer"),
	}
}

// New validates cfg, generates an RSA-2048 signing key and returns a
// Provider. It does not listen; use Start or mount Handler.
func New(cfg Config) (*Provider, error) {
	p := &Provider{
		cfg:      cfg,
		byEmail:  make(map[string]int),
		clients:  make(map[string]Client),
		tokenTTL: cfg.TokenTTL,
		now:      cfg.Now,
		pending:  make(map[string]*pendingAuth),
		codes:    make(map[string]*authCode),
		tokens:   make(map[string]*accessToken),
	}
	if p.tokenTTL == 0 {
		p.tokenTTL = defaultTokenTTL
	}
	if p.tokenTTL < 0 {
		return nil, errors.New("devidp: negative TokenTTL")
	}
	if p.now == nil {
		p.now = time.Now
	}
	if cfg.Issuer != "" {
		iss, err := validateIssuer(cfg.Issuer)
		if err != nil {
			return nil, err
		}
		p.issuer = iss
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("devidp: no users configured")
	}
	subs := make(map[string]bool)
	for _, u := range cfg.Users {
		u.Email = strings.TrimSpace(u.Email)
		if u.Email == "" || !strings.Contains(u.Email, "@") {
			return nil, fmt.Errorf("devidp: invalid user email %q", u.Email)
		}
		key := strings.ToLower(u.Email)
		if _, dup := p.byEmail[key]; dup {
			return nil, fmt.Errorf("devidp: duplicate user %q", u.Email)
		}
		if u.Subject == "" {
			sum := sha256.Sum256([]byte(key))
			u.Subject = "dev-" + hex.EncodeToString(sum[:10])
		}
		if subs[u.Subject] {
			return nil, fmt.Errorf("devidp: duplicate subject %q", u.Subject)
		}
		subs[u.Subject] = true
		u.Groups = append([]string(nil), u.Groups...)
		p.byEmail[key] = len(p.users)
		p.users = append(p.users, u)
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("devidp: no clients configured")
	}
	for id, c := range cfg.Clients {
		if id == "" || strings.ContainsAny(id, ":") {
			return nil, fmt.Errorf("devidp: invalid client_id %q", id)
		}
		if c.Secret == "" {
			return nil, fmt.Errorf("devidp: client %q has no secret", id)
		}
		if len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("devidp: client %q has no redirect URIs", id)
		}
		for _, ru := range c.RedirectURIs {
			u, err := url.Parse(ru)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
				return nil, fmt.Errorf("devidp: client %q: invalid redirect URI %q", id, ru)
			}
		}
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		p.clients[id] = c
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: generate key: %w", err)
	}
	p.key = key
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devidp: key thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	p.jwk = pub
	p.signer, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("devidp: signer: %w", err)
	}
	p.handler = p.routes()
	return p, nil
}

func validateIssuer(s string) (string, error) {
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("devidp: invalid issuer %q", s)
	}
	return s, nil
}

// Handler returns the provider's HTTP handler. When Config.Issuer has a
// path, the endpoints are served under it.
func (p *Provider) Handler() http.Handler { return p.handler }

// Issuer returns the configured or Start-derived issuer, or "" when it
// is derived per request.
func (p *Provider) Issuer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issuer
}

// Start listens on addr, which must be a loopback address such as
// "127.0.0.1:0", serves Handler in the background and returns the
// issuer URL. When Config.Issuer is empty the issuer is
// "http://<listener address>".
func (p *Provider) Start(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("devidp: listen address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return "", fmt.Errorf("devidp: refusing to listen on non-loopback address %q (development only)", addr)
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return "", errors.New("devidp: already started")
	}
	p.started = true
	p.mu.Unlock()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.mu.Lock()
		p.started = false
		p.mu.Unlock()
		return "", fmt.Errorf("devidp: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	p.mu.Lock()
	if p.issuer == "" {
		p.issuer = "http://" + ln.Addr().String()
	}
	iss := p.issuer
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return iss, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops the server started by Start, closing its listener and
// connections. It is a no-op when Start was not called.
func (p *Provider) Close() error {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// NextToken registers mutate to edit the claims of the next ID token
// the token endpoint issues, after all standard claims are set and
// before signing. It affects only that one token; several calls before
// it is issued all apply to it, in order. Use it to produce tokens a
// relying party must reject (wrong nonce, aud, exp, hd, …).
func (p *Provider) NextToken(mutate func(claims map[string]any)) {
	if mutate == nil {
		return
	}
	p.mu.Lock()
	p.mutators = append(p.mutators, mutate)
	p.mu.Unlock()
}

// randToken returns n random bytes, base64url-encoded.
func randToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("devidp: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
