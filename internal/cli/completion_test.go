package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The flags come from each command's own usage: spot-check that the
// parser sees them, with and without values.
func TestCompletionTreeHasFlags(t *testing.T) {
	tree := completionTree(context.Background())
	node := func(path ...string) compCmd {
		t.Helper()
		cs := tree
		var n compCmd
		for _, p := range path {
			i := slices.IndexFunc(cs, func(c compCmd) bool { return c.name == p })
			if i < 0 {
				t.Fatalf("no %v in the tree", path)
			}
			n, cs = cs[i], cs[i].subs
		}
		return n
	}
	has := func(n compCmd, name string, value bool) {
		t.Helper()
		i := slices.IndexFunc(n.flags, func(f compFlag) bool { return f.name == name })
		if i < 0 || n.flags[i].value != value || n.flags[i].usage == "" {
			t.Errorf("%s: flag %s (value %v) not found in %+v", n.name, name, value, n.flags)
		}
	}
	has(node("login"), "name", true)
	has(node("login"), "no-browser", false)
	has(node("login"), "timeout", true)
	has(node("users"), "rack", true)
	has(node("users", "add"), "role", true)
	has(node("admin", "create-user"), "role", true)
	has(node("mfa", "verify"), "rack", true)
	has(node("audit", "tail"), "follow", false)
	has(node("serve"), "config", true)
	if f := node("admin").flags; len(f) != 0 {
		t.Errorf("admin has no flags of its own: %+v", f)
	}
	if n := node("help"); n.summary == "" {
		t.Error("help is offered as a command")
	}
	for _, c := range tree {
		for _, n := range append([]compCmd{c}, c.subs...) {
			if !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(n.name) {
				t.Errorf("%q cannot be put in a script unquoted", n.name)
			}
			for _, f := range n.flags {
				if !regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*$`).MatchString(f.name) {
					t.Errorf("%s: flag %q cannot be put in a script unquoted", n.name, f.name)
				}
			}
		}
	}
}

// Each script names every command, sub-verb and flag of the table, and
// parses in its shell where that shell is installed.
func TestCompletionScripts(t *testing.T) {
	tree := completionTree(context.Background())
	syntax := map[string][]string{"bash": {"bash", "-n"}, "zsh": {"zsh", "-n"}, "fish": {"fish", "--no-execute"}}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			code, script, stderr := run(t, nil, "completion", shell)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			word := func(w string) bool {
				return regexp.MustCompile(`(^|[\s'(=])` + regexp.QuoteMeta(w) + `($|[\s')=:])`).MatchString(script)
			}
			for _, c := range commands {
				if !word(c.name) {
					t.Errorf("no command %s", c.name)
				}
				for _, s := range c.subs {
					if !word(s.name) {
						t.Errorf("no sub-verb %s %s", c.name, s.name)
					}
				}
			}
			if !word("help") {
				t.Error("no help")
			}
			for _, c := range tree {
				for _, n := range append([]compCmd{c}, c.subs...) {
					for _, f := range n.flags {
						w := f.spelled()
						if shell == "fish" {
							w = f.name // complete -l name / -o n
						}
						if !word(w) {
							t.Errorf("no flag %s of %s", w, n.name)
						}
					}
				}
			}
			if shell != "bash" && !strings.Contains(script, oneLine(find(commands, "login").summary)) {
				t.Error("no descriptions")
			}
			sh, err := exec.LookPath(syntax[shell][0])
			if err != nil {
				t.Skipf("%s is not installed: syntax not checked", shell)
			}
			file := filepath.Join(t.TempDir(), "rack-gateway."+shell)
			if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sh, append(syntax[shell][1:], file)...).CombinedOutput(); err != nil {
				t.Fatalf("%s does not parse the script: %v\n%s", shell, err, out)
			}
		})
	}
}

// The scripts complete as a person would expect, run in their shells
// (those installed). zsh runs the completion function with stand-ins for
// its completion system (_describe prints the candidates, _files says
// FILES); fish answers `complete -C`.
func TestCompletionCompletes(t *testing.T) {
	cases := []struct {
		line string // the words; the last is the one being completed
		want []string
	}{
		{"rack-gateway lo", []string{"login", "logout"}},
		{"rack-gateway ", append(names(commands), "help")},
		{"rack-gateway users ", []string{"add", "set-role", "disable", "enable", "mfa", "unlock-mfa", "reset-mfa"}},
		{"rack-gateway users --rack prod a", []string{"add"}}, // the flag's value is not the sub-verb
		{"rack-gateway admin create-user x@example.com --r", []string{"--role"}},
		{"rack-gateway login --n", []string{"--name", "--no-browser"}},
		{"rack-gateway audit tail --f", []string{"--follow"}},
		{"rack-gateway mfa verify --r", []string{"--rack"}},
		{"rack-gateway help adm", []string{"admin"}},
		{"rack-gateway help admin cr", []string{"create-user"}},
		{"rack-gateway completion ", []string{"bash", "zsh", "fish"}},
		{"rack-gateway serve --config ", nil}, // a file: the shell's own completion
		{"rack-gateway switch ", nil},
	}
	dir := t.TempDir() // empty: file completion offers nothing
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			sh, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed", shell)
			}
			_, script, _ := run(t, nil, "completion", shell)
			file := filepath.Join(t.TempDir(), "rack-gateway."+shell)
			if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				words := strings.Split(c.line, " ")
				var prog string
				var args []string
				switch shell {
				case "bash":
					var quoted []string
					for _, w := range words {
						quoted = append(quoted, shQuote(w))
					}
					prog = "source " + shQuote(file) + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
						"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_rack_gateway\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
					args = []string{"--norc", "--noprofile", "-c", prog}
				case "zsh":
					prog = `compdef() { :; }
_describe() { local arr=${@[-1]}; print -l -- ${(P)arr} }
_files() { print FILES }
source "$1"
words=("${(@)argv[2,-1]}")
CURRENT=${#words}
_rack-gateway`
					args = append([]string{"-f", "-c", prog, "zsh", file}, words...)
				case "fish":
					args = []string{"--no-config", "-c", "source " + fishQuote(file) + "; complete -C " + fishQuote(c.line)}
				}
				cmd := exec.Command(sh, args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", c.line, err, out)
				}
				var got []string
				cur := words[len(words)-1]
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					l, _, _ = strings.Cut(l, "\t") // fish: name, tab, description
					if shell == "zsh" {
						l, _, _ = strings.Cut(l, ":") // name:description
					}
					if l != "" && l != "FILES" && strings.HasPrefix(l, cur) {
						got = append(got, l)
					}
				}
				want := slices.Clone(c.want)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%q: completions %q, want %q", c.line, got, want)
				}
			}
		})
	}
}

// bash splits --flag=value into three words; the value is still skipped.
func TestCompletionBashFlagEquals(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	_, script, _ := run(t, nil, "completion", "bash")
	file := filepath.Join(t.TempDir(), "rack-gateway.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := "source " + shQuote(file) + "\nCOMP_WORDS=(rack-gateway users --rack = prod a)\nCOMP_CWORD=5\n_rack_gateway\necho \"${COMPREPLY[@]}\"\n"
	out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "add" {
		t.Fatalf("%v: %q, want add", err, out)
	}
}
