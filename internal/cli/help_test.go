package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// helpCase is one command line that asks for a usage, and the command it
// must name.
type helpCase struct {
	args []string
	path string // "admin create-user"
}

// helpCases asks for the usage of every command and sub-command of the
// table in every way: --help, -h, -help, and `help ...`.
func helpCases() []helpCase {
	var cs []helpCase
	for _, c := range commands {
		for _, h := range []string{"--help", "-h", "-help"} {
			cs = append(cs, helpCase{[]string{c.name, h}, c.name})
		}
		cs = append(cs, helpCase{[]string{"help", c.name}, c.name})
		for _, s := range c.subs {
			path := c.name + " " + s.name
			for _, h := range []string{"--help", "-h"} {
				cs = append(cs, helpCase{[]string{c.name, s.name, h}, path})
			}
			cs = append(cs, helpCase{[]string{"help", c.name, s.name}, path})
		}
	}
	return cs
}

// Asking for a usage prints it to stdout and exits 0, for every command and
// sub-command: nothing runs, nothing goes to stderr.
func TestEveryCommandHasHelp(t *testing.T) {
	// No gateway, no config, no database: a command that ran instead of
	// printing its usage would fail or print something else.
	dir := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": dir, "HOME": dir, "PATH": dir,
		"RGW_DATABASE_URL": "sqlite:" + filepath.Join(dir, "gw.db")}
	cases := helpCases()
	if len(cases) < 4*len(commands) {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, stderr := run(t, env, c.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
			}
			if !strings.HasPrefix(out, "Usage: rack-gateway "+strings.Fields(c.path)[0]) || !strings.Contains(out, "rack-gateway "+c.path) {
				t.Errorf("stdout does not name %q:\n%s", c.path, out)
			}
		})
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("asking for help wrote %v", left)
	}
}

// The top-level help lists every command of the table, by group.
func TestHelpListsCommandsByGroup(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, stderr := run(t, nil, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		client := strings.Index(out, "Client commands")
		server := strings.Index(out, "Server commands")
		other := strings.Index(out, "Other commands")
		if client < 0 || server < client || other < server {
			t.Fatalf("%v: no groups:\n%s", args, out)
		}
		for _, c := range commands {
			at := strings.Index(out, "\n  "+c.name+" ")
			if at < 0 {
				t.Errorf("%v: help lacks %s", args, c.name)
				continue
			}
			if inClient, inOther := at < server, at > other; inClient != (c.group == clientGroup) || inOther != (c.group == otherGroup) {
				t.Errorf("%v: %s listed in the wrong group", args, c.name)
			}
			for _, s := range c.subs {
				if !strings.Contains(out[at:], s.name) {
					t.Errorf("%v: help lacks %s %s", args, c.name, s.name)
				}
			}
		}
	}
}

// A wrong command line prints the usage to stderr and exits 2; nothing on
// stdout.
func TestUsageErrors(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir(), "PATH": t.TempDir(),
		"RGW_DATABASE_URL": "sqlite:" + t.TempDir() + "/gw.db"}
	cases := []struct {
		args []string
		want string // in stderr
	}{
		{nil, "Usage: rack-gateway <command>"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"logn"}, `did you mean "login"?`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "admin", "frob"}, "not a sub-command of admin"},
		{[]string{"help", "login", "now"}, "not a sub-command of login"},
		{[]string{"login", "--frob"}, "flag provided but not defined: -frob"},
		{[]string{"login", "a", "b"}, "Usage: rack-gateway login"},
		{[]string{"switch"}, "Usage: rack-gateway switch"},
		{[]string{"racks", "extra"}, "Usage: rack-gateway racks"},
		{[]string{"convox", "--rack"}, "Usage: rack-gateway convox"},
		{[]string{"users", "--frob"}, "Usage: rack-gateway users"},
		{[]string{"admin"}, "Usage: rack-gateway admin VERB"},
		{[]string{"admin", "frob"}, `unknown verb "frob"`},
		{[]string{"admin", "create-usr"}, `did you mean "create-user"?`},
		{[]string{"admin", "create-user", "x@example.com"}, "Usage: rack-gateway admin create-user EMAIL --role ROLE"},
		{[]string{"admin", "set-role", "x@example.com", "--frob"}, "flag provided but not defined: -frob"},
		{[]string{"token"}, "Usage: rack-gateway token VERB"},
		{[]string{"token", "create", "--user", "x@example.com"}, "Usage: rack-gateway token create"},
		{[]string{"token", "revoke"}, "Usage: rack-gateway token revoke ID"},
		{[]string{"audit"}, "Usage: rack-gateway audit VERB"},
		{[]string{"audit", "keygen"}, "Usage: rack-gateway audit keygen"},
		{[]string{"audit", "tail", "extra"}, `unexpected argument "extra"`},
		{[]string{"migrate", "extra"}, "Usage: rack-gateway migrate"},
		{[]string{"version", "--frob"}, "Usage: rack-gateway version"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, stderr := run(t, env, c.args...)
			if code != 2 || out != "" || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, and %q", code, out, stderr, c.want)
			}
		})
	}
}
