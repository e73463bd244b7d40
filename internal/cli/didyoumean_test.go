package cli

import (
	"strings"
	"testing"
)

// A mistyped command or sub-verb is a usage error (exit 2, nothing on
// stdout) that suggests the close names, and only those; it is found
// before anything else happens (no config read, no login needed).
func TestDidYouMeanCommandsAndVerbs(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir(), "PATH": t.TempDir(),
		"RGW_DATABASE_URL": "sqlite:" + t.TempDir() + "/gw.db"}
	cases := []struct {
		args []string
		want string // the first line of stderr
	}{
		// Commands.
		{[]string{"logn"}, `rack-gateway: unknown command "logn"; did you mean "login"?`},
		{[]string{"lgoin"}, `rack-gateway: unknown command "lgoin"; did you mean "login"?`},
		{[]string{"Whoami"}, `rack-gateway: unknown command "Whoami"; did you mean "whoami"?`},
		{[]string{"sesions"}, `rack-gateway: unknown command "sesions"; did you mean "sessions"?`},
		{[]string{"log"}, `rack-gateway: unknown command "log"; did you mean "login" or "logout"?`},
		{[]string{"versoin"}, `rack-gateway: unknown command "versoin"; did you mean "version"?`},
		{[]string{"frobnicate"}, `rack-gateway: unknown command "frobnicate"`},
		{[]string{"ls"}, `rack-gateway: unknown command "ls"`},
		{[]string{"help", "tokns"}, `rack-gateway help: unknown command "tokns"; did you mean "tokens"?`},
		// Sub-verbs of the server's commands (dispatched by the table).
		{[]string{"admin", "create-usr", "x@example.com"}, `rack-gateway admin: unknown verb "create-usr"; did you mean "create-user"?`},
		{[]string{"audit", "tial"}, `rack-gateway audit: unknown verb "tial"; did you mean "tail"?`},
		{[]string{"audit", "frob"}, `rack-gateway audit: unknown verb "frob"`},
		{[]string{"completion", "bsh"}, `rack-gateway completion: unknown verb "bsh"; did you mean "bash" or "zsh"?`},
		{[]string{"help", "admin", "disabel"}, `rack-gateway help: "disabel" is not a sub-command of admin; did you mean "disable"?`},
		// Sub-verbs of the client's commands (they parse their own flags).
		{[]string{"users", "ad", "x@example.com", "--role", "ops"}, `rack-gateway users: unknown verb "ad"; did you mean "add"?`},
		{[]string{"users", "--rack", "prod", "unlok-mfa", "x@example.com"}, `rack-gateway users: unknown verb "unlok-mfa"; did you mean "unlock-mfa"?`},
		{[]string{"users", "list"}, `rack-gateway users: unknown verb "list"`},
		{[]string{"sessions", "revok", "1"}, `rack-gateway sessions: unknown verb "revok"; did you mean "revoke"?`},
		{[]string{"tokens", "creat", "ci"}, `rack-gateway tokens: unknown verb "creat"; did you mean "create"?`},
		{[]string{"deploy-approval", "aprove", "1"}, `rack-gateway deploy-approval: unknown verb "aprove"; did you mean "approve"?`},
		{[]string{"mfa", "verfy"}, `rack-gateway mfa: unknown verb "verfy"; did you mean "verify"?`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, stderr := run(t, env, c.args...)
			first, rest, _ := strings.Cut(stderr, "\n")
			if code != 2 || out != "" || first != c.want || !strings.Contains(rest, "Usage: rack-gateway") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, and %q then the usage", code, out, stderr, c.want)
			}
		})
	}
}

// Every sub-verb the table names is one its command knows: none is
// refused as unknown (a client command checks its own list).
func TestTableVerbsAreKnown(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": dir, "HOME": dir, "PATH": dir}
	for _, c := range commands {
		if c.run == nil {
			continue // the table dispatches the sub-verbs itself
		}
		for _, s := range c.subs {
			_, _, stderr := run(t, env, c.name, s.name)
			if strings.Contains(stderr, "unknown verb") {
				t.Errorf("%s %s: %s", c.name, s.name, stderr)
			}
		}
	}
}
