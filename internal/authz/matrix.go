package authz

import "strings"

// MatrixMarkdown renders the role × permission matrix from the role data as
// a Markdown table; the README embeds it and a test keeps them in step.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range roles {
		b.WriteString(" " + r.Name + " |")
	}
	b.WriteString("\n|---|")
	for range roles {
		b.WriteString(":-:|")
	}
	b.WriteString("\n")
	for _, p := range all {
		b.WriteString("| `" + string(p) + "` |")
		for _, r := range roles {
			s, _ := RolePermissions(r.Name)
			if s.Has(p) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("   |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
