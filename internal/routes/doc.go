package routes

import (
	"strings"
)

// TableMarkdown renders the route table as Markdown for the README: one row
// per route with the permission it needs and how it is handled.
func TableMarkdown() string {
	var b strings.Builder
	b.WriteString("| method | path | rack handler | permission | notes |\n|---|---|---|---|---|\n")
	for i := range table {
		r := &table[i]
		method := r.Method
		if r.Websocket {
			method = "SOCKET"
		}
		perm := "`" + string(r.Permission) + "`"
		if r.Public {
			perm = "public"
		}
		var notes []string
		if r.Mutating {
			notes = append(notes, "audited before forwarding")
		}
		if r.Stream {
			notes = append(notes, "streamed")
		}
		if r.Foreign {
			notes = append(notes, "another service's answers")
		}
		if r.Filter != FilterNone {
			notes = append(notes, "response filter "+string(r.Filter))
		}
		if r.Guard != GuardNone {
			notes = append(notes, "guard "+string(r.Guard))
		}
		if len(r.SecretParams) > 0 {
			notes = append(notes, "secret params: "+strings.Join(r.SecretParams, ", "))
		}
		if r.SecretResponse {
			notes = append(notes, "secret response")
		}
		b.WriteString("| " + method + " | `" + r.Path + "` | " + r.Name + " | " + perm + " | " + strings.Join(notes, "; ") + " |\n")
	}
	return b.String()
}
