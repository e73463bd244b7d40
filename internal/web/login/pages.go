package login

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
)

// page is what the one page template shows. Everything is escaped by
// html/template; the pages have no script, and the CSP allows none.
type page struct {
	Title   string
	Message string
	Tone    string // "info", "error" or "ok"
	// SignedInAs shows the current session with a continue link and a
	// sign-out button.
	SignedInAs  string
	ContinueURL string
	// LoginURL and LoginLabel show the sign-in button.
	LoginURL   string
	LoginLabel string
	// CLI shows the CLI login confirmation form.
	CLI   *cliConfirm
	Links []link
}

type link struct{ Href, Text string }

type cliConfirm struct {
	Request, Challenge, Name, LoginHint string
	Code                                string
	ProviderName                        string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · rack-gateway</title>
<link rel="stylesheet" href="/auth/static/login.css">
</head>
<body>
<main class="card">
<p class="brand">rack-gateway</p>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="msg {{.Tone}}" role="status">{{.Message}}</p>{{end}}
{{if .SignedInAs}}
<p>You are signed in as <strong>{{.SignedInAs}}</strong>.</p>
<p><a class="button" href="{{.ContinueURL}}">Continue</a></p>
<form method="post" action="/auth/logout"><button type="submit" class="secondary">Sign out</button></form>
{{end}}
{{if .LoginURL}}<p><a class="button" href="{{.LoginURL}}">{{.LoginLabel}}</a></p>{{end}}
{{with .CLI}}
<p>A command-line login was started for the gateway named <strong>{{.Name}}</strong>.</p>
<p>Check that your terminal shows this code:</p>
<p class="code">{{.Code}}</p>
<p class="warn">Continue only if you just ran the login command yourself, on your own computer, and the codes match. Anyone who sent you this link could otherwise get your access.</p>
<form method="post" action="/auth/cli">
<input type="hidden" name="request" value="{{.Request}}">
<input type="hidden" name="challenge" value="{{.Challenge}}">
<input type="hidden" name="name" value="{{.Name}}">
{{if .LoginHint}}<input type="hidden" name="login_hint" value="{{.LoginHint}}">{{end}}
<button type="submit">Continue with {{.ProviderName}}</button>
</form>
{{end}}
{{range .Links}}<p><a href="{{.Href}}">{{.Text}}</a></p>{{end}}
</main>
</body>
</html>
`))

func (h *Handler) render(w http.ResponseWriter, status int, p page) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		h.log.Error("login: render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders a refusal page with a way to start again.
func (h *Handler) failPage(w http.ResponseWriter, status int, title, msg string) {
	h.render(w, status, page{Title: title, Message: msg, Tone: "error",
		Links: []link{{Href: "/auth/signin", Text: "Back to sign-in"}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const loginCSS = `*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
.card{background:#fff;max-width:28rem;width:100%;margin:1rem;padding:2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
.brand{margin:0;color:#6b7280;font-size:.85rem;letter-spacing:.05em;text-transform:uppercase}
h1{font-size:1.4rem;margin:.25rem 0 1rem}
.msg{padding:.6rem .8rem;border-radius:6px;background:#eef2ff}
.msg.error{background:#fdecec;color:#8a1c1c}
.msg.ok{background:#e8f6ee;color:#14532d}
.warn{font-size:.9rem;color:#7a4b00}
.code{font:600 1.6rem/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:.1em;text-align:center}
a{color:#2446c7}
.button,button{display:inline-block;border:0;border-radius:6px;padding:.6rem 1.1rem;font:inherit;
background:#2446c7;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#e5e7eb;color:#1d2330}
form{margin:0 0 1rem}
`

func serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(loginCSS))
}
