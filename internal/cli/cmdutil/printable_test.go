package cmdutil

import "testing"

func TestPrintable(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain /apps/myapp", "plain /apps/myapp"},
		{"ünïcode ✓", "ünïcode ✓"},
		{"/apps\nseq 9 2026-01-01T00:00:00Z allow AppDelete admin", `/apps\nseq 9 2026-01-01T00:00:00Z allow AppDelete admin`},
		{"\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"cr\rtab\tdel\x7f", `cr\rtab\tdel\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"nul\x00", `nul\x00`},
	}
	for _, c := range cases {
		if got := Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
