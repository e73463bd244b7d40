package routes

import (
	"os"
	"strings"
	"testing"
)

// The README's route table must be the one the route data produces.
func TestReadmeRouteTableInSync(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	const begin, end = "<!-- route-table:begin -->\n", "<!-- route-table:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README lacks the route-table markers")
	}
	if got, want := s[i+len(begin):j], TableMarkdown(); got != want {
		t.Fatalf("README route table is out of date; replace it with:\n%s", want)
	}
}
