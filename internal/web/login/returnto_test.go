package login

import (
	"strings"
	"testing"
)

func TestSafeReturnTo(t *testing.T) {
	tests := []struct{ in, want string }{
		// Allowed: same-origin relative paths.
		{"/", "/"},
		{"/apps", "/apps"},
		{"/apps/web?tab=env&x=1", "/apps/web?tab=env&x=1"},
		{"/racks/prod/apps#logs", "/racks/prod/apps#logs"},
		{"/a%20b", "/a%20b"},
		{"/authx", "/authx"},
		// Empty and too long.
		{"", "/"},
		{"/" + strings.Repeat("a", 511), "/" + strings.Repeat("a", 511)},
		{"/" + strings.Repeat("a", 512), "/"},
		// Protocol-relative and backslash tricks.
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{"/\\evil.com", "/"},
		{"\\\\evil.com", "/"},
		{"/x\\y", "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%2f/evil.com", "/"},
		{"/%5Cevil.com", "/"},
		{"/%5c%5cevil.com", "/"},
		// Schemes and hosts.
		{"https://evil.com", "/"},
		{"http://evil.com/path", "/"},
		{"HTTPS://evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"JavaScript:alert(1)", "/"},
		{"data:text/html,<script>alert(1)</script>", "/"},
		{"evil.com", "/"},
		{"apps", "/"},
		{"./apps", "/"},
		{"../apps", "/"},
		{"?x=1", "/"},
		{"#frag", "/"},
		// Control characters, whitespace and non-ASCII.
		{"\t/x", "/"},
		{"/\t/evil.com", "/"},
		{"/\n/evil.com", "/"},
		{"/x\r\nSet-Cookie: a=b", "/"},
		{" /x", "/"},
		{"/x y", "/"},
		{"/\x00", "/"},
		{"/\x7f", "/"},
		{"/%0d%0aSet-Cookie:a=b", "/"},
		{"/%09/evil.com", "/"},
		{"/\u3002evil.com", "/"},
		{"/ｅｖｉｌ", "/"},
		// Malformed escapes.
		{"/%zz", "/"},
		// Back into the login flow.
		{"/auth/login", "/"},
		{"/auth/signin?return_to=//evil.com", "/"},
		{"/auth", "/"},
	}
	for _, tt := range tests {
		if got := SafeReturnTo(tt.in); got != tt.want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "https://x", "/a?b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeReturnTo(s)
		if got == "/" {
			return
		}
		if got != s {
			t.Fatalf("SafeReturnTo(%q) = %q: must be the input or /", s, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\") || strings.HasPrefix(got, "/auth/") {
			t.Fatalf("SafeReturnTo(%q) = %q is not a plain relative path", s, got)
		}
	})
}

func TestVerificationCode(t *testing.T) {
	c := VerificationCode("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	if len(c) != 9 || c[4] != '-' {
		t.Fatalf("code %q: want XXXX-XXXX", c)
	}
	if c != VerificationCode("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") {
		t.Fatal("code is not deterministic")
	}
	if c == VerificationCode("F9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") {
		t.Fatal("different challenges give the same code")
	}
}
