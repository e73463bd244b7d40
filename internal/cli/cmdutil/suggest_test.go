package cmdutil

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"login", "login", 0}, {"", "abc", 3}, {"logn", "login", 1}, {"lgoin", "login", 1}, // a swap is one edit
		{"create-usr", "create-user", 1}, {"kitten", "sitting", 3}, {"ünï", "uni", 2},
	} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := EditDistance(c.b, c.a); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	commands := []string{"login", "logout", "racks", "switch", "whoami", "env", "users", "sessions", "tokens",
		"token", "dev", "serve", "admin", "audit", "mfa", "mfa-keygen", "mfa-reseal", "deploy-approval", "version"}
	users := []string{"add", "set-role", "disable", "enable", "mfa", "unlock-mfa", "reset-mfa"}
	cases := []struct {
		name  string
		in    string
		cands []string
		want  string
	}{
		{"one edit", "logn", commands, `; did you mean "login"?`},
		{"swap", "lgoin", commands, `; did you mean "login"?`},
		{"case", "Login", commands, `; did you mean "login"?`},
		{"two edits, long name", "sesions", commands, `; did you mean "sessions"?`},
		{"closest wins", "tokn", commands, `; did you mean "token"?`},
		{"ties", "toke", []string{"token", "tokes"}, `; did you mean "token" or "tokes"?`},
		{"prefix", "deploy", commands, `; did you mean "deploy-approval"?`},
		{"prefix of several", "log", commands, `; did you mean "login" or "logout"?`},
		{"sub-verb", "ad", users, `; did you mean "add"?`},
		{"sub-verb, two edits", "unlok-mf", users, `; did you mean "unlock-mfa"?`},
		{"far", "frobnicate", commands, ""},
		{"short and far", "xy", commands, ""},
		{"two edits are too many for a short name", "lgn", commands, ""}, // not "login" (2), nor "env"
		{"short", "mf", commands, `; did you mean "mfa"?`},
		{"too many prefixed", "abcd", []string{"abcdefgh1", "abcdefgh2", "abcdefgh3", "abcdefgh4"}, ""},
		{"a flag", "--nme", []string{"--name"}, ""},
		{"empty", "", commands, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DidYouMean(c.in, c.cands); got != c.want {
				t.Errorf("DidYouMean(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestFlagsVerb(t *testing.T) {
	cases := []struct {
		pos     []string
		wantErr bool
		stderr  string
	}{
		{nil, false, ""},
		{[]string{"add", "x@example.com"}, false, ""},
		{[]string{"ad", "x@example.com"}, true, "rack-gateway users: unknown verb \"ad\"; did you mean \"add\"?\n\nUsage: rack-gateway users"},
		{[]string{"frobnicate"}, true, "rack-gateway users: unknown verb \"frobnicate\"\n\nUsage: rack-gateway users"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		fs := NewFlags(&Env{Stdout: &out, Stderr: &errb}, "users", "users VERB")
		err := fs.Verb(c.pos, "add", "disable")
		if c.wantErr != errors.Is(err, ErrUsage) || c.wantErr != (err != nil) || out.Len() != 0 ||
			!strings.HasPrefix(errb.String(), c.stderr) || (c.stderr == "") != (errb.Len() == 0) {
			t.Errorf("Verb(%q) = %v; stderr %q, want %q", c.pos, err, errb.String(), c.stderr)
		}
	}
	if got := Suggest("ad", []string{"add", "add"}); !slices.Equal(got, []string{"add"}) {
		t.Errorf("duplicates: %q", got)
	}
}
