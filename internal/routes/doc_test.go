package routes

import (
	"os"
	"strings"
	"testing"
)

// docs/permissions.md's route table must be the one the route data produces.
func TestDocsRouteTableInSync(t *testing.T) {
	b, err := os.ReadFile("../../docs/permissions.md")
	if err != nil {
		t.Fatalf("read docs/permissions.md: %v", err)
	}
	const begin, end = "<!-- route-table:begin -->\n", "<!-- route-table:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/permissions.md lacks the route-table markers")
	}
	if got, want := s[i+len(begin):j], TableMarkdown(); got != want {
		t.Fatalf("docs/permissions.md route table is out of date; replace it with:\n%s", want)
	}
}
