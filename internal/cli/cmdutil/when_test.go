package cmdutil

import "testing"

// The CLI prints the admin API's times (RFC 3339, maybe with fractions or
// an offset) in the console's one format; anything else stays readable
// and inert.
func TestWhen(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "-"},
		{"  ", "-"},
		{"2026-12-05T10:00:00Z", "2026-12-05T10:00:00Z"},
		{"2026-12-05T10:00:00.123456789Z", "2026-12-05T10:00:00Z"},
		{"2026-12-05T11:30:00+01:30", "2026-12-05T10:00:00Z"},
		{"yesterday", "yesterday"},
		{"bad\x1b[2J", `bad\x1b[2J`},
	} {
		if got := When(c.in); got != c.want {
			t.Errorf("When(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
