package devidp

import (
	_ "embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed static/idp.css
var idpCSS []byte

const pageTitle = "Rack Gateway development sign-in — NOT for production"

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"join": strings.Join}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Base}}/static/idp.css">
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="warning">This is the Rack Gateway development identity provider. Anyone who can reach it can sign in as any listed user. Never expose it beyond loopback or use it in production.</p>
{{if .Error}}<p>{{.Error}}</p>{{else}}
<p class="meta">Client <code>{{.ClientID}}</code> will receive your identity at <code>{{.RedirectOrigin}}</code>.</p>
<form method="post" action="{{.Base}}/authorize">
<input type="hidden" name="request" value="{{.Token}}">
<ul>
{{range .Users}}<li><button type="submit" name="email" value="{{.Email}}">Sign in as {{.Email}}{{if or .Name .Groups}}<span class="detail">{{.Name}}{{if .Groups}} · groups: {{join .Groups ", "}}{{end}}{{if not .EmailVerified}} · email NOT verified{{end}}</span>{{end}}</button></li>
{{end}}</ul>
<button type="submit" name="action" value="deny" class="cancel">Cancel</button>
</form>
{{end}}
</main>
</body>
</html>
`))

type pageData struct {
	Title          string
	Base           string
	Error          string
	ClientID       string
	RedirectOrigin string
	Token          string
	Users          []User
}

// setPageHeaders sets the CSP and caching headers for HTML pages.
// formAction lists origins the sign-in form may submit or redirect to.
func setPageHeaders(w http.ResponseWriter, formAction string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// renderSignIn stores a pending request and shows the user picker.
func (p *Provider) renderSignIn(w http.ResponseWriter, r *http.Request, ap authParams) {
	binding := ""
	if c, err := r.Cookie(bindingCookie); err == nil && len(c.Value) == 43 && isB64URL(c.Value) {
		binding = c.Value // reuse so several open sign-in tabs all work
	} else {
		binding = randToken(32)
	}
	token := randToken(32)
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	p.pending[token] = &pendingAuth{
		clientID: ap.clientID, redirectURI: ap.redirectURI, state: ap.state,
		nonce: ap.nonce, challenge: ap.challenge, scope: ap.scope,
		binding: binding, expires: now.Add(pendingTTL),
	}
	p.mu.Unlock()

	iss := p.issuerFor(r)
	base := p.basePath(r)
	http.SetCookie(w, &http.Cookie{
		Name:     bindingCookie,
		Value:    binding,
		Path:     base + "/authorize",
		MaxAge:   int(pendingTTL.Seconds()),
		HttpOnly: true,
		Secure:   strings.HasPrefix(iss, "https://"),
		SameSite: http.SameSiteLaxMode,
	})
	// The form posts to the provider, which then redirects to the
	// client; CSP form-action also governs that redirect in Chromium.
	redirectOrigin := originOf(ap.redirectURI)
	setPageHeaders(w, "'self' "+redirectOrigin)
	w.WriteHeader(http.StatusOK)
	_ = pageTmpl.Execute(w, pageData{
		Title:          pageTitle,
		Base:           base,
		ClientID:       ap.clientID,
		RedirectOrigin: redirectOrigin,
		Token:          token,
		Users:          p.users,
	})
}

// errorPage renders an HTML error without redirecting to the client.
func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	setPageHeaders(w, "'none'")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = pageTmpl.Execute(w, pageData{Title: pageTitle, Base: p.basePath(r), Error: msg})
}
