// Package cli implements the rack-gateway command line: the server
// (serve, dev, migrate, simrack) and the operator verbs (admin, token,
// audit). Each subcommand lives in its own file.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// Env is what a command sees of the outside world; tests substitute it.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Stdin          io.Reader // nil: os.Stdin
}

func (e *Env) stdin() io.Reader {
	if e.Stdin != nil {
		return e.Stdin
	}
	return os.Stdin
}

type command struct {
	summary string
	run     func(ctx context.Context, e *Env, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, e *Env, args []string) error) {
	commands[name] = command{summary, run}
}

// errUsage asks Main to print usage and exit 2.
var errUsage = errors.New("usage")

// exitStatus makes Run exit with this status without printing anything
// more (a child's status passed through, e.g. `rack-gateway convox`).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string) int {
	e := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	return Run(ctx, e, args)
}

// Run is Main with an explicit environment.
func Run(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "rack-gateway: unknown command %q\n\n", args[0])
		usage(e.Stderr)
		return 2
	}
	if err := c.run(ctx, e, args[1:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		var es exitStatus
		if errors.As(err, &es) {
			return int(es)
		}
		fmt.Fprintf(e.Stderr, "rack-gateway %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "rack-gateway: an identity-aware gateway for Convox racks")
	fmt.Fprintln(w, "\nUsage: rack-gateway <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'rack-gateway <command> -h' for a command's flags.")
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (e.g. "admin create-user EMAIL --role admin").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func newFlags(e *Env, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "Usage: rack-gateway %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
