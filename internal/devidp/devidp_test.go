package devidp_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rack-gateway/rack-gateway/internal/devidp"
)

const (
	clientID     = "rack-gateway"
	clientSecret = "s3cret/with+odd=chars"
	redirectURI  = "http://127.0.0.1:18080/auth/callback"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a running provider plus a relying party configured against it
// through real discovery.
type env struct {
	t        *testing.T
	idp      *devidp.Provider
	issuer   string
	provider *oidc.Provider
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	clock    *clock
}

func newEnv(t *testing.T, mod func(*devidp.Config)) *env {
	t.Helper()
	clk := &clock{}
	users := devidp.DemoUsers()
	users[0].Groups = []string{"admins", "ops"}
	cfg := devidp.Config{
		Users: users,
		Clients: map[string]devidp.Client{
			clientID: {Secret: clientSecret, RedirectURIs: []string{redirectURI}},
			"other":  {Secret: "other-secret", RedirectURIs: []string{"http://127.0.0.1:18081/cb"}},
		},
		Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := devidp.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	iss, err := p.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return newRP(t, p, iss, clk)
}

func newRP(t *testing.T, p *devidp.Provider, iss string, clk *clock) *env {
	t.Helper()
	ctx := context.Background()
	op, err := oidc.NewProvider(ctx, iss)
	if err != nil {
		t.Fatalf("oidc discovery: %v", err)
	}
	oc := &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  redirectURI,
		Endpoint:     op.Endpoint(),
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	return &env{
		t: t, idp: p, issuer: iss, provider: op, oauth: oc,
		verifier: op.Verifier(&oidc.Config{ClientID: clientID}),
		clock:    clk,
	}
}

// authRequest is one RP login attempt.
type authRequest struct {
	state, nonce, verifier string
	url                    string
}

func (e *env) newAuthRequest(extra ...oauth2.AuthCodeOption) authRequest {
	ar := authRequest{state: randString(), nonce: randString(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(ar.nonce), oauth2.S256ChallengeOption(ar.verifier)}, extra...)
	ar.url = e.oauth.AuthCodeURL(ar.state, opts...)
	return ar
}

func randString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests can inspect each hop.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	requestRE    = regexp.MustCompile(`<input type="hidden" name="request" value="([^"]+)">`)
	userBtnRE    = regexp.MustCompile(`<button type="submit" name="email" value="([^"]+)">Sign in as ([^<]+)`)
)

// signInPage is the parsed sign-in page.
type signInPage struct {
	resp   *http.Response
	body   string
	action string
	token  string
	users  []string
}

func (e *env) getSignIn(c *http.Client, authURL string) signInPage {
	e.t.Helper()
	resp, err := c.Get(authURL)
	if err != nil {
		e.t.Fatalf("GET authorize: %v", err)
	}
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET authorize: status %d: %s", resp.StatusCode, body)
	}
	pg := signInPage{resp: resp, body: body}
	m := formActionRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no form in page:\n%s", body)
	}
	pg.action = html.UnescapeString(m[1])
	m = requestRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no form token in page:\n%s", body)
	}
	pg.token = html.UnescapeString(m[1])
	for _, m := range userBtnRE.FindAllStringSubmatch(body, -1) {
		pg.users = append(pg.users, html.UnescapeString(m[1]))
	}
	return pg
}

// submit posts the sign-in form and returns the (unfollowed) response.
func (e *env) submit(c *http.Client, pg signInPage, fields url.Values) *http.Response {
	e.t.Helper()
	action, err := url.Parse(e.issuer)
	if err != nil {
		e.t.Fatal(err)
	}
	action = action.ResolveReference(&url.URL{Path: pg.action})
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(fields.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", originOf(e.issuer))
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("POST form: %v", err)
	}
	return resp
}

func originOf(s string) string {
	u, _ := url.Parse(s)
	return u.Scheme + "://" + u.Host
}

// callback checks resp is a redirect to the RP and returns its query.
func (e *env) callback(resp *http.Response) url.Values {
	e.t.Helper()
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("want redirect to RP, got %d: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		e.t.Fatalf("redirected to %q, want %q", got, redirectURI)
	}
	return loc.Query()
}

// signIn runs the browser half of the flow for email and returns the
// authorization code after checking state.
func (e *env) signIn(ar authRequest, email string) string {
	e.t.Helper()
	c := browser(e.t)
	pg := e.getSignIn(c, ar.url)
	q := e.callback(e.submit(c, pg, url.Values{"request": {pg.token}, "email": {email}}))
	if q.Get("state") != ar.state {
		e.t.Fatalf("state = %q, want %q", q.Get("state"), ar.state)
	}
	if q.Get("error") != "" {
		e.t.Fatalf("authorize error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		e.t.Fatal("no code in callback")
	}
	return code
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func oauthErrCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want *oauth2.RetrieveError, got %T: %v", err, err)
	}
	return re.ErrorCode, re.Response.StatusCode
}

// ---- tests ----

func TestFullFlowWithGoOIDC(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ar := e.newAuthRequest()

	c := browser(t)
	pg := e.getSignIn(c, ar.url)
	want := []string{"admin@example.com", "deployer@example.com", "ops@example.com", "viewer@example.com"}
	if strings.Join(pg.users, ",") != strings.Join(want, ",") {
		t.Fatalf("users on page = %v, want %v", pg.users, want)
	}
	q := e.callback(e.submit(c, pg, url.Values{"request": {pg.token}, "email": {"admin@example.com"}}))
	if q.Get("state") != ar.state {
		t.Fatalf("state mismatch")
	}

	tok, err := e.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ar.verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("bad token: %+v", tok)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatal("no id_token")
	}
	idt, err := e.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Nonce != ar.nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, ar.nonce)
	}
	if idt.Issuer != e.issuer {
		t.Fatalf("iss = %q, want %q", idt.Issuer, e.issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		HD            string   `json:"hd"`
		Groups        []string `json:"groups"`
		AuthTime      int64    `json:"auth_time"`
		IAT           int64    `json:"iat"`
		EXP           int64    `json:"exp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "admin@example.com" || !claims.EmailVerified || claims.HD != "example.com" ||
		claims.Name != "Demo Admin" || strings.Join(claims.Groups, ",") != "admins,ops" || claims.AuthTime == 0 {
		t.Fatalf("claims = %+v", claims)
	}
	if d := time.Duration(claims.EXP-claims.IAT) * time.Second; d != 5*time.Minute {
		t.Fatalf("token lifetime %v, want 5m", d)
	}
	if !strings.HasPrefix(idt.Subject, "dev-") {
		t.Fatalf("sub = %q", idt.Subject)
	}

	ui, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	if ui.Subject != idt.Subject || ui.Email != "admin@example.com" || !ui.EmailVerified {
		t.Fatalf("userinfo = %+v", ui)
	}
}

func TestClientAuthStyles(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		e := newEnv(t, nil)
		e.oauth.Endpoint.AuthStyle = style
		ar := e.newAuthRequest()
		code := e.signIn(ar, "ops@example.com")
		tok, err := e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
		if err != nil {
			t.Fatalf("style %v: Exchange: %v", style, err)
		}
		idt, err := e.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil || idt.Nonce != ar.nonce {
			t.Fatalf("style %v: verify: %v", style, err)
		}
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := newEnv(t, nil)
	var doc map[string]any
	getJSON(t, e.issuer+"/.well-known/openid-configuration", &doc)
	checks := map[string]string{
		"issuer":                                e.issuer,
		"authorization_endpoint":                e.issuer + "/authorize",
		"token_endpoint":                        e.issuer + "/token",
		"jwks_uri":                              e.issuer + "/jwks",
		"userinfo_endpoint":                     e.issuer + "/userinfo",
		"response_types_supported":              "code",
		"id_token_signing_alg_values_supported": "RS256",
		"code_challenge_methods_supported":      "S256",
		"subject_types_supported":               "public",
	}
	for k, want := range checks {
		var got string
		switch v := doc[k].(type) {
		case string:
			got = v
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i], _ = x.(string)
			}
			got = strings.Join(parts, ",")
		}
		if got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"scopes_supported", "claims_supported"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("discovery lacks %s", k)
		}
	}
	var jwks struct {
		Keys []struct {
			Kty, Kid, Alg, Use, N, E string
			D                        string `json:"d"`
		} `json:"keys"`
	}
	getJSON(t, e.issuer+"/jwks", &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("keys = %d", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	if k.Kty != "RSA" || k.Kid == "" || k.Alg != "RS256" || k.Use != "sig" || k.D != "" {
		t.Fatalf("jwk = %+v", k)
	}
	if n, _ := base64.RawURLEncoding.DecodeString(k.N); len(n)*8 != 2048 {
		t.Fatalf("modulus %d bits", len(n)*8)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestSignInPageSecurity(t *testing.T) {
	e := newEnv(t, nil)
	ar := e.newAuthRequest()
	c := browser(t)
	pg := e.getSignIn(c, ar.url)
	csp := pg.resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self' http://127.0.0.1:18080", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows unsafe-inline: %q", csp)
	}
	if !strings.Contains(pg.body, "Rack Gateway development sign-in — NOT for production") {
		t.Error("page lacks the NOT for production title")
	}
	for _, bad := range []string{"<script", "style=", "javascript:"} {
		if strings.Contains(strings.ToLower(pg.body), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+=`).FindString(pg.body); m != "" {
		t.Errorf("page has an event handler attribute %q", m)
	}
	if got := pg.resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	resp, err := http.Get(e.issuer + "/static/idp.css")
	if err != nil {
		t.Fatal(err)
	}
	css := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".warning") {
		t.Fatalf("css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestFormTokenChecks(t *testing.T) {
	e := newEnv(t, nil)
	ar := e.newAuthRequest()

	t.Run("single use", func(t *testing.T) {
		c := browser(t)
		pg := e.getSignIn(c, ar.url)
		e.callback(e.submit(c, pg, url.Values{"request": {pg.token}, "email": {"viewer@example.com"}}))
		resp := e.submit(c, pg, url.Values{"request": {pg.token}, "email": {"admin@example.com"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("replayed form: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("forged token", func(t *testing.T) {
		c := browser(t)
		pg := e.getSignIn(c, ar.url)
		resp := e.submit(c, pg, url.Values{"request": {"forged"}, "email": {"admin@example.com"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("forged token: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("other browser", func(t *testing.T) {
		pg := e.getSignIn(browser(t), ar.url)
		resp := e.submit(browser(t), pg, url.Values{"request": {pg.token}, "email": {"admin@example.com"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("no binding cookie: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("cross origin", func(t *testing.T) {
		c := browser(t)
		pg := e.getSignIn(c, ar.url)
		req, _ := http.NewRequest(http.MethodPost, e.issuer+pg.action,
			strings.NewReader(url.Values{"request": {pg.token}, "email": {"admin@example.com"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://evil.example")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b := readBody(t, resp); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		c := browser(t)
		pg := e.getSignIn(c, ar.url)
		resp := e.submit(c, pg, url.Values{"request": {pg.token}, "email": {"mallory@example.com"}})
		if b := readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown user: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := browser(t)
		pg := e.getSignIn(c, ar.url)
		q := e.callback(e.submit(c, pg, url.Values{"request": {pg.token}, "action": {"deny"}}))
		if q.Get("error") != "access_denied" || q.Get("state") != ar.state || q.Get("code") != "" {
			t.Fatalf("cancel callback = %v", q)
		}
	})
}

func TestWrongCodeVerifier(t *testing.T) {
	e := newEnv(t, nil)
	ar := e.newAuthRequest()
	code := e.signIn(ar, "admin@example.com")
	_, err := e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if ec, st := oauthErrCode(t, err); ec != "invalid_grant" || st != http.StatusBadRequest {
		t.Fatalf("error = %s/%d, want invalid_grant/400", ec, st)
	}
	// The failed attempt consumed the code.
	_, err = e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
	if ec, _ := oauthErrCode(t, err); ec != "invalid_grant" {
		t.Fatalf("after failed attempt: %s", ec)
	}
}

func TestMissingCodeVerifier(t *testing.T) {
	e := newEnv(t, nil)
	code := e.signIn(e.newAuthRequest(), "admin@example.com")
	_, err := e.oauth.Exchange(context.Background(), code)
	if ec, st := oauthErrCode(t, err); ec != "invalid_request" || st != http.StatusBadRequest {
		t.Fatalf("error = %s/%d, want invalid_request/400", ec, st)
	}
}

func TestCodeReuseRevokesTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ar := e.newAuthRequest()
	code := e.signIn(ar, "admin@example.com")
	tok, err := e.oauth.Exchange(ctx, code, oauth2.VerifierOption(ar.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before reuse: %v", err)
	}
	_, err = e.oauth.Exchange(ctx, code, oauth2.VerifierOption(ar.verifier))
	if ec, st := oauthErrCode(t, err); ec != "invalid_grant" || st != http.StatusBadRequest {
		t.Fatalf("reuse = %s/%d", ec, st)
	}
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("userinfo after reuse: want 401, got %v", err)
	}
}

func TestRedirectURIMismatch(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("token endpoint", func(t *testing.T) {
		ar := e.newAuthRequest()
		code := e.signIn(ar, "admin@example.com")
		oc := *e.oauth
		oc.RedirectURL = "http://127.0.0.1:18080/auth/other"
		_, err := oc.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
		if ec, _ := oauthErrCode(t, err); ec != "invalid_grant" {
			t.Fatalf("error = %s, want invalid_grant", ec)
		}
	})
	for name, ru := range map[string]string{
		"unregistered": "http://127.0.0.1:18080/auth/callback/extra",
		"other client": "http://127.0.0.1:18081/cb",
		"prefix":       "http://127.0.0.1:18080/auth",
	} {
		t.Run("authorize "+name, func(t *testing.T) {
			oc := *e.oauth
			oc.RedirectURL = ru
			u := oc.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			resp, err := browser(t).Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("want 400 without redirect, got %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, "redirect_uri") {
				t.Fatalf("body: %s", body)
			}
		})
	}
}

func TestInvalidClient(t *testing.T) {
	e := newEnv(t, nil)
	for name, mod := range map[string]func(*oauth2.Config){
		"wrong secret basic":   func(c *oauth2.Config) { c.ClientSecret = "nope"; c.Endpoint.AuthStyle = oauth2.AuthStyleInHeader },
		"wrong secret post":    func(c *oauth2.Config) { c.ClientSecret = "nope"; c.Endpoint.AuthStyle = oauth2.AuthStyleInParams },
		"wrong secret auto":    func(c *oauth2.Config) { c.ClientSecret = "nope" },
		"unknown client basic": func(c *oauth2.Config) { c.ClientID = "nobody"; c.Endpoint.AuthStyle = oauth2.AuthStyleInHeader },
		"unknown client post":  func(c *oauth2.Config) { c.ClientID = "nobody"; c.Endpoint.AuthStyle = oauth2.AuthStyleInParams },
		"other client's code":  func(c *oauth2.Config) { c.ClientID = "other"; c.ClientSecret = "other-secret" },
	} {
		t.Run(name, func(t *testing.T) {
			ar := e.newAuthRequest()
			code := e.signIn(ar, "admin@example.com")
			oc := *e.oauth
			mod(&oc)
			_, err := oc.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
			ec, st := oauthErrCode(t, err)
			if name == "other client's code" {
				if ec != "invalid_grant" {
					t.Fatalf("error = %s, want invalid_grant", ec)
				}
				return
			}
			if ec != "invalid_client" || st != http.StatusUnauthorized {
				t.Fatalf("error = %s/%d, want invalid_client/401", ec, st)
			}
		})
	}
}

func TestAuthorizeRequestErrors(t *testing.T) {
	e := newEnv(t, nil)
	base := e.oauth.Endpoint.AuthURL
	ch := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	valid := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"xyz"}, "nonce": {"n"},
		"code_challenge": {ch}, "code_challenge_method": {"S256"},
	}
	cases := []struct {
		name    string
		mod     func(url.Values)
		wantErr string
	}{
		{"missing code_challenge", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
		{"plain method", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"missing method", func(v url.Values) { v.Del("code_challenge_method") }, "invalid_request"},
		{"bad challenge", func(v url.Values) { v.Set("code_challenge", "short") }, "invalid_request"},
		{"token response type", func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
		{"no openid scope", func(v url.Values) { v.Set("scope", "email") }, "invalid_scope"},
		{"prompt none without auto-approve", func(v url.Values) {
			v.Set("prompt", "none")
			v.Set("login_hint", "admin@example.com")
		}, "login_required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range valid {
				v[k] = append([]string(nil), vs...)
			}
			tc.mod(v)
			resp, err := browser(t).Get(base + "?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			q := e.callback(resp)
			if q.Get("error") != tc.wantErr || q.Get("state") != "xyz" || q.Get("code") != "" {
				t.Fatalf("callback = %v, want error %s", q, tc.wantErr)
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		v := url.Values{}
		for k, vs := range valid {
			v[k] = vs
		}
		v.Set("client_id", "nobody")
		resp, err := browser(t).Get(base + "?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("unknown client: %d", resp.StatusCode)
		}
	})
}

func TestNextTokenMutations(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	exchange := func() (string, authRequest) {
		t.Helper()
		ar := e.newAuthRequest()
		code := e.signIn(ar, "admin@example.com")
		tok, err := e.oauth.Exchange(ctx, code, oauth2.VerifierOption(ar.verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		return tok.Extra("id_token").(string), ar
	}

	t.Run("nonce", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["nonce"] = "attacker-nonce" })
		raw, ar := exchange()
		idt, err := e.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if idt.Nonce == ar.nonce {
			t.Fatal("nonce was not mutated")
		}
	})
	t.Run("exp", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		raw, _ := exchange()
		if _, err := e.verifier.Verify(ctx, raw); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("Verify: want expired error, got %v", err)
		}
	})
	t.Run("aud", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["aud"] = "someone-else" })
		raw, _ := exchange()
		if _, err := e.verifier.Verify(ctx, raw); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Fatalf("Verify: want audience error, got %v", err)
		}
	})
	t.Run("iss", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["iss"] = "http://evil.example" })
		raw, _ := exchange()
		if _, err := e.verifier.Verify(ctx, raw); err == nil || !strings.Contains(err.Error(), "issue") {
			t.Fatalf("Verify: want issuer error, got %v", err)
		}
	})
	t.Run("hd and email_verified chained", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["hd"] = "evil.example" })
		e.idp.NextToken(func(c map[string]any) { c["email_verified"] = false })
		raw, _ := exchange()
		idt, err := e.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var cl struct {
			HD            string `json:"hd"`
			EmailVerified bool   `json:"email_verified"`
		}
		if err := idt.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		if cl.HD != "evil.example" || cl.EmailVerified {
			t.Fatalf("claims = %+v", cl)
		}
	})
	t.Run("only next token", func(t *testing.T) {
		e.idp.NextToken(func(c map[string]any) { c["aud"] = "someone-else" })
		raw, _ := exchange()
		if _, err := e.verifier.Verify(ctx, raw); err == nil {
			t.Fatal("mutated token verified")
		}
		raw, ar := exchange()
		idt, err := e.verifier.Verify(ctx, raw)
		if err != nil || idt.Nonce != ar.nonce {
			t.Fatalf("following token: %v", err)
		}
	})
}

func TestExpiredCode(t *testing.T) {
	e := newEnv(t, nil)
	ar := e.newAuthRequest()
	code := e.signIn(ar, "admin@example.com")
	e.clock.Advance(61 * time.Second)
	_, err := e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
	if ec, _ := oauthErrCode(t, err); ec != "invalid_grant" {
		t.Fatalf("error = %s, want invalid_grant", ec)
	}
}

func TestCodeWithinLifetime(t *testing.T) {
	e := newEnv(t, nil)
	ar := e.newAuthRequest()
	code := e.signIn(ar, "admin@example.com")
	e.clock.Advance(50 * time.Second)
	if _, err := e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier)); err != nil {
		t.Fatalf("Exchange at 50s: %v", err)
	}
}

func TestExpiredSignInPage(t *testing.T) {
	e := newEnv(t, nil)
	c := browser(t)
	pg := e.getSignIn(c, e.newAuthRequest().url)
	e.clock.Advance(11 * time.Minute)
	resp := e.submit(c, pg, url.Values{"request": {pg.token}, "email": {"admin@example.com"}})
	if b := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "expired") {
		t.Fatalf("expired page: %d %s", resp.StatusCode, b)
	}
}

func TestUserinfoErrors(t *testing.T) {
	e := newEnv(t, nil)
	for name, auth := range map[string]string{"none": "", "bogus": "Bearer bogus", "basic": "Basic Zm9vOmJhcg=="} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// Access tokens expire with TokenTTL.
	ar := e.newAuthRequest()
	tok, err := e.oauth.Exchange(context.Background(), e.signIn(ar, "ops@example.com"), oauth2.VerifierOption(ar.verifier))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Minute)
	if _, err := e.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("expired access token accepted")
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, nil)
	post := func(form url.Values, basic bool) (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]string
		if err := json.Unmarshal([]byte(readBody(t, resp)), &out); err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content-type %q", ct)
		}
		return resp.StatusCode, out
	}
	cases := []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		err    string
	}{
		{"no client auth", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, false, 401, "invalid_client"},
		{"refresh grant", url.Values{"grant_type": {"refresh_token"}}, true, 400, "unsupported_grant_type"},
		{"no code", url.Values{"grant_type": {"authorization_code"}}, true, 400, "invalid_request"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {redirectURI},
			"code_verifier": {oauth2.GenerateVerifier()}}, true, 400, "invalid_grant"},
		{"two auth methods", url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "client_secret": {clientSecret}}, true, 400, "invalid_request"},
	}
	for _, tc := range cases {
		st, out := post(tc.form, tc.basic)
		if st != tc.status || out["error"] != tc.err || out["error_description"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, out, tc.status, tc.err)
		}
	}
	resp, err := http.Get(e.issuer + "/token")
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(b, "invalid_request") {
		t.Errorf("GET /token: %d %s", resp.StatusCode, b)
	}
}

func TestAutoApprove(t *testing.T) {
	e := newEnv(t, func(c *devidp.Config) { c.AutoApprove = true })
	ctx := context.Background()
	ar := e.newAuthRequest(oauth2.SetAuthURLParam("login_hint", "Deployer@Example.com"), oauth2.SetAuthURLParam("prompt", "none"))
	resp, err := browser(t).Get(ar.url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	q := e.callback(resp)
	if q.Get("state") != ar.state {
		t.Fatal("state mismatch")
	}
	tok, err := e.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ar.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != ar.nonce {
		t.Fatalf("verify: %v", err)
	}
	var cl struct{ Email string }
	_ = idt.Claims(&cl)
	if cl.Email != "deployer@example.com" {
		t.Fatalf("email = %q", cl.Email)
	}

	// An unknown hint with prompt=none still fails; without prompt it shows the page.
	ar = e.newAuthRequest(oauth2.SetAuthURLParam("login_hint", "nobody@example.com"), oauth2.SetAuthURLParam("prompt", "none"))
	resp, err = browser(t).Get(ar.url)
	if err != nil {
		t.Fatal(err)
	}
	if q := e.callback(resp); q.Get("error") != "login_required" {
		t.Fatalf("unknown hint: %v", q)
	}
	ar = e.newAuthRequest(oauth2.SetAuthURLParam("login_hint", "nobody@example.com"))
	e.getSignIn(browser(t), ar.url)
}

func TestIssuerWithPath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss := "http://" + ln.Addr().String() + "/dev-idp"
	clk := &clock{}
	p, err := devidp.New(devidp.Config{
		Issuer: iss + "/",
		Users:  devidp.DemoUsers(),
		Clients: map[string]devidp.Client{
			clientID: {Secret: clientSecret, RedirectURIs: []string{redirectURI}},
		},
		Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	e := newRP(t, p, iss, clk)
	ar := e.newAuthRequest()
	code := e.signIn(ar, "viewer@example.com")
	tok, err := e.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(ar.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier.Verify(context.Background(), tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentLogins(t *testing.T) {
	e := newEnv(t, nil)
	users := []string{"admin@example.com", "deployer@example.com", "ops@example.com", "viewer@example.com"}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(email string) {
			defer wg.Done()
			ar := e.newAuthRequest()
			c := browser(t)
			resp, err := c.Get(ar.url)
			if err != nil {
				errs <- err
				return
			}
			body := readBodyNoFatal(resp)
			m := requestRE.FindStringSubmatch(body)
			if m == nil {
				errs <- errors.New("no token")
				return
			}
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/authorize",
				strings.NewReader(url.Values{"request": {html.UnescapeString(m[1])}, "email": {email}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err = c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			readBodyNoFatal(resp)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			tok, err := e.oauth.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(ar.verifier))
			if err != nil {
				errs <- err
				return
			}
			idt, err := e.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
			if err != nil {
				errs <- err
				return
			}
			var cl struct{ Email string }
			_ = idt.Claims(&cl)
			if cl.Email != email || idt.Nonce != ar.nonce {
				errs <- errors.New("wrong identity or nonce for " + email)
			}
		}(users[i%len(users)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func readBodyNoFatal(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestNewAndStartValidation(t *testing.T) {
	good := devidp.Config{
		Users:   devidp.DemoUsers(),
		Clients: map[string]devidp.Client{"c": {Secret: "s", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	}
	bad := map[string]func(*devidp.Config){
		"no users":   func(c *devidp.Config) { c.Users = nil },
		"dup user":   func(c *devidp.Config) { c.Users = append(devidp.DemoUsers(), devidp.User{Email: "ADMIN@example.com"}) },
		"no clients": func(c *devidp.Config) { c.Clients = nil },
		"no secret": func(c *devidp.Config) {
			c.Clients = map[string]devidp.Client{"c": {RedirectURIs: []string{"http://x/cb"}}}
		},
		"bad redirect": func(c *devidp.Config) {
			c.Clients = map[string]devidp.Client{"c": {Secret: "s", RedirectURIs: []string{"/cb"}}}
		},
		"bad issuer":   func(c *devidp.Config) { c.Issuer = "ftp://x" },
		"issuer query": func(c *devidp.Config) { c.Issuer = "http://x/?a=b" },
		"negative TTL": func(c *devidp.Config) { c.TokenTTL = -time.Second },
		"no redirects": func(c *devidp.Config) { c.Clients = map[string]devidp.Client{"c": {Secret: "s"}} },
		"blank email":  func(c *devidp.Config) { c.Users = []devidp.User{{Email: " "}} },
		"dup subject": func(c *devidp.Config) {
			c.Users = []devidp.User{{Email: "a@x", Subject: "s"}, {Email: "b@x", Subject: "s"}}
		},
		"empty client": func(c *devidp.Config) {
			c.Clients = map[string]devidp.Client{"": {Secret: "s", RedirectURIs: []string{"http://x/cb"}}}
		},
		"fragment uri": func(c *devidp.Config) {
			c.Clients = map[string]devidp.Client{"c": {Secret: "s", RedirectURIs: []string{"http://x/cb#f"}}}
		},
		"javascript ru": func(c *devidp.Config) {
			c.Clients = map[string]devidp.Client{"c": {Secret: "s", RedirectURIs: []string{"javascript:alert(1)"}}}
		},
	}
	for name, mod := range bad {
		cfg := good
		mod(&cfg)
		if _, err := devidp.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	p, err := devidp.New(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if _, err := p.Start(addr); err == nil {
			_ = p.Close()
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
	iss, err := p.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(iss, "http://127.0.0.1:") || p.Issuer() != iss {
		t.Fatalf("issuer %q", iss)
	}
	if _, err := p.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(iss + "/jwks"); err == nil {
		t.Error("server still serving after Close")
	}
}
