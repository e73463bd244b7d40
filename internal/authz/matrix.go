package authz

import "strings"

// MatrixMarkdown renders the role × permission matrix from the role data,
// with what each permission needs beyond the role (requirements.go), as a
// Markdown table; the README embeds it and a test keeps them in step.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range roles {
		b.WriteString(" " + r.Name + " |")
	}
	b.WriteString(" second factor (people) | approval (CI) |\n|---|")
	for range roles {
		b.WriteString(":-:|")
	}
	b.WriteString("---|---|\n")
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
		req := RequirementOf(p)
		b.WriteString(" " + req.StepUp.Describe() + " |")
		if req.Approval {
			b.WriteString(" when the app's deploy policy asks |")
		} else {
			b.WriteString("   |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
