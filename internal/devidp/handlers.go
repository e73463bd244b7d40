package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// bindingCookie ties a rendered sign-in page to the browser that loaded
// it. Cookies ignore ports, so the name is specific to avoid clashing
// with the gateway's cookies on the same loopback host.
const bindingCookie = "rack_gateway_devidp_binding"

// maxFormBytes bounds request bodies.
const maxFormBytes = 64 << 10

// pendingAuth is a validated authorization request awaiting the user's
// choice on the sign-in page. It is keyed by the form token.
type pendingAuth struct {
	clientID    string
	redirectURI string
	state       string
	nonce       string
	challenge   string
	scope       string
	binding     string
	expires     time.Time
}

// authCode is an issued authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	nonce       string
	challenge   string
	scope       string
	user        int
	authTime    time.Time
	expires     time.Time
	used        bool
	issued      []string // access tokens issued from this code
}

// accessToken is an issued bearer token for userinfo.
type accessToken struct {
	user     int
	clientID string
	scope    string
	expires  time.Time
}

// authParams are the parameters of an authorization request.
type authParams struct {
	clientID, redirectURI, responseType, scope, state, nonce string
	challenge, challengeMethod, prompt, loginHint            string
}

func (p *Provider) routes() http.Handler {
	base := ""
	if p.issuer != "" {
		u, _ := url.Parse(p.issuer)
		base = u.EscapedPath()
	}
	mux := http.NewServeMux()
	mux.HandleFunc(base+"/.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc(base+"/jwks", p.handleJWKS)
	mux.HandleFunc(base+"/authorize", p.handleAuthorize)
	mux.HandleFunc(base+"/token", p.handleToken)
	mux.HandleFunc(base+"/userinfo", p.handleUserinfo)
	mux.HandleFunc(base+"/static/idp.css", p.handleCSS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		mux.ServeHTTP(w, r)
	})
}

// issuerFor returns the issuer for r: the configured or Start-derived
// one, else "http://<Host>".
func (p *Provider) issuerFor(r *http.Request) string {
	p.mu.Lock()
	iss := p.issuer
	p.mu.Unlock()
	if iss != "" {
		return iss
	}
	return "http://" + r.Host
}

// basePath is the issuer's path ("" when it has none).
func (p *Provider) basePath(r *http.Request) string {
	u, err := url.Parse(p.issuerFor(r))
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ---- discovery and keys ----

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	iss := p.issuerFor(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"userinfo_endpoint":                     iss + "/userinfo",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"claims_supported": []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"email", "email_verified", "name", "hd", "groups",
		},
		"prompt_values_supported": []string{"none", "login", "consent", "select_account"},
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=60")
	set := map[string]any{"keys": []any{p.jwk}}
	_ = json.NewEncoder(w).Encode(set)
}

func (p *Provider) handleCSS(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(idpCSS)
}

// ---- authorization endpoint ----

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "Malformed request.")
			return
		}
		p.startAuthorize(w, r, r.Form)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "Malformed request.")
			return
		}
		if _, ok := r.PostForm["request"]; ok {
			p.decide(w, r)
			return
		}
		// OIDC Core 3.1.2.1: the authorization request may be POSTed.
		p.startAuthorize(w, r, r.PostForm)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		p.errorPage(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
	}
}

// startAuthorize validates an authorization request and either shows
// the sign-in page, auto-approves, or returns an error.
func (p *Provider) startAuthorize(w http.ResponseWriter, r *http.Request, form url.Values) {
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state",
		"nonce", "code_challenge", "code_challenge_method", "prompt", "login_hint"} {
		if len(form[k]) > 1 {
			// Cannot trust which redirect_uri is meant: no redirect.
			p.errorPage(w, r, http.StatusBadRequest, "Parameter "+k+" repeated.")
			return
		}
	}
	ap := authParams{
		clientID:        form.Get("client_id"),
		redirectURI:     form.Get("redirect_uri"),
		responseType:    form.Get("response_type"),
		scope:           form.Get("scope"),
		state:           form.Get("state"),
		nonce:           form.Get("nonce"),
		challenge:       form.Get("code_challenge"),
		challengeMethod: form.Get("code_challenge_method"),
		prompt:          form.Get("prompt"),
		loginHint:       form.Get("login_hint"),
	}
	// Errors about the client or redirect URI must not redirect
	// (RFC 6749 §4.1.2.1).
	client, ok := p.clients[ap.clientID]
	if !ok {
		p.errorPage(w, r, http.StatusBadRequest, "Unknown client_id.")
		return
	}
	if ap.redirectURI == "" || !contains(client.RedirectURIs, ap.redirectURI) {
		p.errorPage(w, r, http.StatusBadRequest, "redirect_uri is missing or not registered for this client.")
		return
	}
	fail := func(code, desc string) { p.redirectError(w, r, ap.redirectURI, ap.state, code, desc) }
	if ap.responseType != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if !contains(strings.Fields(ap.scope), "openid") {
		fail("invalid_scope", "scope must include openid")
		return
	}
	if rm := form.Get("response_mode"); rm != "" && rm != "query" {
		fail("invalid_request", "only response_mode=query is supported")
		return
	}
	if form.Get("request") != "" {
		fail("request_not_supported", "request objects are not supported")
		return
	}
	if form.Get("request_uri") != "" {
		fail("request_uri_not_supported", "request_uri is not supported")
		return
	}
	if ap.challenge == "" {
		fail("invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if ap.challengeMethod != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	if len(ap.challenge) != 43 || !isB64URL(ap.challenge) {
		fail("invalid_request", "code_challenge is not a base64url SHA-256 value")
		return
	}
	prompts := strings.Fields(ap.prompt)
	promptNone := contains(prompts, "none")
	if promptNone && len(prompts) > 1 {
		fail("invalid_request", "prompt=none cannot be combined with other values")
		return
	}
	if p.cfg.AutoApprove && ap.loginHint != "" {
		if idx, ok := p.byEmail[strings.ToLower(strings.TrimSpace(ap.loginHint))]; ok {
			p.issueCode(w, r, ap, idx, http.StatusFound)
			return
		}
	}
	if promptNone {
		fail("login_required", "interactive sign-in required")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	p.renderSignIn(w, r, ap)
}

// decide handles the sign-in page's form submission.
func (p *Provider) decide(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != originOf(p.issuerFor(r)) {
		p.errorPage(w, r, http.StatusForbidden, "Cross-origin form submission rejected.")
		return
	}
	if len(r.PostForm["request"]) != 1 || len(r.PostForm["email"]) > 1 || len(r.PostForm["action"]) > 1 {
		p.errorPage(w, r, http.StatusBadRequest, "Malformed form submission.")
		return
	}
	token := r.PostForm.Get("request")
	now := p.now()
	p.mu.Lock()
	pa, ok := p.pending[token]
	delete(p.pending, token) // single use
	p.mu.Unlock()
	if !ok || now.After(pa.expires) {
		p.errorPage(w, r, http.StatusBadRequest, "This sign-in page has expired or was already used. Start the login again.")
		return
	}
	c, err := r.Cookie(bindingCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(pa.binding)) != 1 {
		p.errorPage(w, r, http.StatusForbidden, "Sign-in form was not submitted from this browser's sign-in page.")
		return
	}
	ap := authParams{
		clientID: pa.clientID, redirectURI: pa.redirectURI, state: pa.state,
		nonce: pa.nonce, challenge: pa.challenge, scope: pa.scope,
	}
	if r.PostForm.Get("action") == "deny" {
		p.redirectErrorStatus(w, r, ap.redirectURI, ap.state, "access_denied", "the user cancelled sign-in", http.StatusSeeOther)
		return
	}
	idx, ok := p.byEmail[strings.ToLower(r.PostForm.Get("email"))]
	if !ok {
		p.errorPage(w, r, http.StatusBadRequest, "Unknown user.")
		return
	}
	p.issueCode(w, r, ap, idx, http.StatusSeeOther)
}

// issueCode stores a new authorization code and redirects to the client.
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, ap authParams, user, status int) {
	now := p.now()
	code := randToken(32)
	p.mu.Lock()
	p.sweepLocked(now)
	p.codes[code] = &authCode{
		clientID: ap.clientID, redirectURI: ap.redirectURI, nonce: ap.nonce,
		challenge: ap.challenge, scope: ap.scope, user: user,
		authTime: now, expires: now.Add(codeTTL),
	}
	p.mu.Unlock()
	q := url.Values{"code": {code}}
	if ap.state != "" {
		q.Set("state", ap.state)
	}
	redirectWith(w, r, ap.redirectURI, q, status)
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	p.redirectErrorStatus(w, r, redirectURI, state, code, desc, status)
}

func (p *Provider) redirectErrorStatus(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string, status int) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		q.Set("state", state)
	}
	redirectWith(w, r, redirectURI, q, status)
}

// redirectWith redirects to base with params merged into its query.
func redirectWith(w http.ResponseWriter, r *http.Request, base string, params url.Values, status int) {
	u, err := url.Parse(base)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), status)
}

// sweepLocked drops expired state. p.mu must be held.
func (p *Provider) sweepLocked(now time.Time) {
	for k, v := range p.pending {
		if now.After(v.expires) {
			delete(p.pending, k)
		}
	}
	for k, v := range p.codes {
		if now.After(v.expires) {
			delete(p.codes, k)
		}
	}
	for k, v := range p.tokens {
		if now.After(v.expires) {
			delete(p.tokens, k)
		}
	}
}

// ---- token endpoint ----

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "token endpoint requires POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	for k, vs := range form {
		if len(vs) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" repeated")
			return
		}
	}
	clientID, ok := p.authenticateClient(w, r, form)
	if !ok {
		return
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" {
		if gt == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		} else {
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is supported")
		}
		return
	}
	code := form.Get("code")
	verifier := form.Get("code_verifier")
	if code == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code is required")
		return
	}
	if verifier == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code_verifier is required (PKCE)")
		return
	}
	if len(verifier) < 43 || len(verifier) > 128 || !isVerifierChars(verifier) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code_verifier is malformed")
		return
	}

	now := p.now()
	p.mu.Lock()
	c, ok := p.codes[code]
	if !ok || now.After(c.expires) {
		delete(p.codes, code)
		p.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code is invalid or expired")
		return
	}
	if c.used {
		// RFC 6749 §4.1.2: revoke tokens issued from a reused code.
		for _, t := range c.issued {
			delete(p.tokens, t)
		}
		delete(p.codes, code)
		p.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code was already used")
		return
	}
	// Any authenticated redemption attempt consumes the code, so a
	// verifier cannot be guessed across attempts.
	c.used = true
	cc := *c
	p.mu.Unlock()

	if cc.clientID != clientID {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code was issued to another client")
		return
	}
	if form.Get("redirect_uri") != cc.redirectURI {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(cc.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
		return
	}

	u := p.users[cc.user]
	at := randToken(32)
	exp := now.Add(p.tokenTTL)
	claims := profileClaims(u)
	claims["iss"] = p.issuerFor(r)
	claims["aud"] = clientID
	claims["iat"] = now.Unix()
	claims["exp"] = exp.Unix()
	claims["auth_time"] = cc.authTime.Unix()
	if cc.nonce != "" {
		claims["nonce"] = cc.nonce
	}
	ath := sha256.Sum256([]byte(at))
	claims["at_hash"] = base64.RawURLEncoding.EncodeToString(ath[:len(ath)/2])

	p.mu.Lock()
	muts := p.mutators
	p.mutators = nil
	p.mu.Unlock()
	for _, m := range muts {
		m(claims)
	}
	idToken, err := p.sign(claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "could not sign ID token")
		return
	}

	p.mu.Lock()
	p.tokens[at] = &accessToken{user: cc.user, clientID: clientID, scope: cc.scope, expires: exp}
	if live, ok := p.codes[code]; ok {
		live.issued = append(live.issued, at)
	} else {
		// Code was reused (and revoked) while we were signing.
		delete(p.tokens, at)
		p.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code was already used")
		return
	}
	p.mu.Unlock()

	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int64(p.tokenTTL / time.Second),
		"id_token":     idToken,
		"scope":        cc.scope,
	})
}

// authenticateClient checks client_secret_basic or client_secret_post
// credentials and returns the client_id, or writes an error.
func (p *Provider) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (string, bool) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	_, hasPostSecret := form["client_secret"]
	if hasBasic && hasPostSecret {
		oauthError(w, http.StatusBadRequest, "invalid_request", "use only one client authentication method")
		return "", false
	}
	var id, secret string
	switch {
	case hasBasic:
		// RFC 6749 §2.3.1: credentials are form-urlencoded first.
		var err1, err2 error
		id, err1 = url.QueryUnescape(basicID)
		secret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed client credentials")
			return "", false
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id does not match credentials")
			return "", false
		}
	case hasPostSecret:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	default:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication required")
		return "", false
	}
	c, ok := p.clients[id]
	// Compare anyway for unknown clients to keep timing uniform.
	want := c.Secret
	if !ok {
		want = "\x00unknown-client"
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 || !ok {
		if hasBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return "", false
	}
	return id, true
}

func (p *Provider) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := p.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func profileClaims(u User) map[string]any {
	c := map[string]any{
		"sub":            u.Subject,
		"email":          u.Email,
		"email_verified": u.EmailVerified,
	}
	if u.Name != "" {
		c["name"] = u.Name
	}
	if u.HD != "" {
		c["hd"] = u.HD
	}
	if len(u.Groups) > 0 {
		c["groups"] = append([]string(nil), u.Groups...)
	}
	return c
}

// ---- userinfo ----

func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "userinfo requires GET or POST")
		return
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="devidp"`)
		oauthError(w, http.StatusUnauthorized, "invalid_request", "bearer access token required")
		return
	}
	now := p.now()
	p.mu.Lock()
	t, ok := p.tokens[tok]
	var at accessToken
	if ok {
		at = *t
	}
	p.mu.Unlock()
	if !ok || now.After(at.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="devidp", error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "access token is invalid or expired")
		return
	}
	writeJSON(w, http.StatusOK, profileClaims(p.users[at.user]))
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError writes an RFC 6749 §5.2 error response.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isVerifierChars reports whether s uses only RFC 7636 unreserved chars.
func isVerifierChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
