// Package cli is the rack-gateway command line: the command table
// (commands.go) over the client verbs (package client: login, racks,
// users, ...; HTTP only) and the server's (package server: serve, dev,
// admin, audit, ...), and the dispatch and help around it.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// Env is what a command sees of the outside world; tests substitute it.
type Env = cmdutil.Env

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string) int {
	e := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	return Run(ctx, e, args)
}

// Run is Main with an explicit environment.
//
// `rack-gateway help [COMMAND [SUB]]`, `-h` and `--help` (also after any
// command or sub-command) print the usage to stdout and exit 0; a wrong
// command line prints it to stderr and exits 2; a failure prints
// "rack-gateway COMMAND: error" and exits 1.
func Run(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 {
		usage(e.Stderr)
		return 2
	}
	if cmdutil.IsHelpArg(args[0]) {
		usage(e.Stdout)
		return 0
	}
	if args[0] == "help" {
		return help(ctx, e, args[1:])
	}
	c := find(commands, args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "rack-gateway: unknown command %q%s\n\n", args[0], didYouMean(commands, args[0]))
		usage(e.Stderr)
		return 2
	}
	return cmdutil.Exit(e, c.name, c.exec(ctx, e, c.name, args[1:]))
}

// help is `rack-gateway help [COMMAND [SUB]]`: the usage of the command,
// exactly as COMMAND [SUB] --help prints it.
func help(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 {
		usage(e.Stdout)
		return 0
	}
	c := find(commands, args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "rack-gateway help: unknown command %q%s\n\n", args[0], didYouMean(commands, args[0]))
		usage(e.Stderr)
		return 2
	}
	rest := []string{"--help"}
	if len(args) > 1 {
		if len(args) > 2 || find(c.subs, args[1]) == nil {
			fmt.Fprintf(e.Stderr, "rack-gateway help: %q is not a sub-command of %s%s\n", strings.Join(args[1:], " "), c.name, didYouMean(c.subs, args[1]))
			if len(c.subs) > 0 {
				fmt.Fprintln(e.Stderr)
				c.usage(e.Stderr, c.name)
			}
			return 2
		}
		rest = []string{args[1], "--help"}
	}
	return cmdutil.Exit(e, c.name, c.exec(ctx, e, c.name, rest))
}

// exec runs c (called path on the command line) with the arguments after
// its name.
func (c *command) exec(ctx context.Context, e *Env, path string, args []string) error {
	if c.run != nil {
		return c.run(ctx, e, args)
	}
	switch {
	case len(args) == 0:
		c.usage(e.Stderr, path)
		return cmdutil.ErrUsage
	case cmdutil.IsHelpArg(args[0]):
		c.usage(e.Stdout, path)
		return cmdutil.ErrHelp
	}
	sub := find(c.subs, args[0])
	if sub == nil {
		fmt.Fprintf(e.Stderr, "rack-gateway %s: unknown verb %q%s\n\n", path, args[0], didYouMean(c.subs, args[0]))
		c.usage(e.Stderr, path)
		return cmdutil.ErrUsage
	}
	return sub.exec(ctx, e, path+" "+sub.name, args[1:])
}

// usage lists the sub-verbs of a command that has them.
func (c *command) usage(w io.Writer, path string) {
	fmt.Fprintf(w, "Usage: rack-gateway %s VERB [args] [flags]\n\n%s.\n\nVerbs:\n", path, upperFirst(c.summary))
	for _, s := range c.subs {
		fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun 'rack-gateway %s VERB --help' for a verb's arguments and flags.\n", path)
}

// usage is the top-level help: the commands by group, in table order.
func usage(w io.Writer) {
	fmt.Fprintln(w, "rack-gateway: an identity-aware gateway for Convox racks")
	fmt.Fprintln(w, "\nUsage: rack-gateway <command> [args] [flags]")
	for _, g := range []struct {
		group group
		title string
	}{
		{clientGroup, "Client commands (talk to a gateway over HTTP, as you):"},
		{serverGroup, "Server commands (run the gateway, or work on its database directly):"},
		{otherGroup, "Other commands:"},
	} {
		fmt.Fprintf(w, "\n%s\n", g.title)
		for _, c := range commands {
			if c.group != g.group {
				continue
			}
			summary := c.summary
			if len(c.subs) > 0 {
				summary += ": " + strings.Join(names(c.subs), ", ")
			}
			fmt.Fprintf(w, "  %-10s %s\n", c.name, summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'rack-gateway help <command>' or 'rack-gateway <command> --help' for a command's usage.")
}

func find(cs []command, name string) *command {
	for i := range cs {
		if cs[i].name == name {
			return &cs[i]
		}
	}
	return nil
}

// didYouMean suggests the commands closest to a mistyped name, as
// `; did you mean "NAME"?`, or "" (cmdutil.DidYouMean).
func didYouMean(cs []command, name string) string {
	return cmdutil.DidYouMean(name, names(cs))
}

// names are the names of cs, in order.
func names(cs []command) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
