// Package cmdutil is what every rack-gateway command shares, client or
// server: the environment a command sees (Env), its flags (Flags: usage
// to stdout on --help, to stderr on a usage error) and how its error
// becomes the exit status (Exit). It imports only the standard library
// and internal/timefmt, so the client verbs (internal/cli/client) can use
// it without any server package.
package cmdutil

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// Env is what a command sees of the outside world; tests substitute it.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Stdin          io.Reader // nil: os.Stdin
}

// In is the command's standard input.
func (e *Env) In() io.Reader {
	if e.Stdin != nil {
		return e.Stdin
	}
	return os.Stdin
}

// RunFunc runs one command (or sub-command) with the arguments after its
// name.
type RunFunc func(ctx context.Context, e *Env, args []string) error

// ErrHelp means the usage was asked for (-h, --help) and has been printed
// to stdout: exit 0.
var ErrHelp = errors.New("help requested")

// ErrUsage means the command line was wrong and the usage has been printed
// to stderr: exit 2.
var ErrUsage = errors.New("usage")

// ExitStatus makes the process exit with this status without printing
// anything more (a child's status passed through, e.g. `rack-gateway
// convox`).
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Exit turns a command's result into the process exit status, printing
// "rack-gateway NAME: ERROR" for a failure.
func Exit(e *Env, name string, err error) int {
	var es ExitStatus
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.As(err, &es):
		return int(es)
	}
	fmt.Fprintf(e.Stderr, "rack-gateway %s: %v\n", name, err)
	return 1
}

// IsHelpArg reports whether a is one of the spellings of "show the usage".
func IsHelpArg(a string) bool {
	return a == "-h" || a == "-help" || a == "--help"
}

// Flags is one command's flag set and usage.
type Flags struct {
	*flag.FlagSet
	e     *Env
	usage string
}

// NewFlags makes the flag set of the command "rack-gateway NAME". usage
// starts with the synopsis, "NAME [flags] ARGS" (more lines for more
// forms), then optionally a blank line and a description.
func NewFlags(e *Env, name, usage string) *Flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse reports errors itself
	fs.Usage = func() {}
	return &Flags{FlagSet: fs, e: e, usage: usage}
}

// Parse parses flags that may come before, between or after positional
// arguments (e.g. "admin create-user EMAIL --role admin") and returns the
// positional ones; "--" ends the flags. For -h or --help it prints the
// usage to stdout and returns ErrHelp; for a bad flag it prints the error
// and the usage to stderr and returns ErrUsage.
func (f *Flags) Parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.PrintUsage(f.e.Stdout)
				return nil, ErrHelp
			}
			fmt.Fprintln(f.e.Stderr, err)
			return nil, f.Fail()
		}
		rest := f.Args()
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

// ParseNoArgs is Parse for a command that takes flags only: positional
// arguments are a usage error.
func (f *Flags) ParseNoArgs(args []string) error {
	pos, err := f.Parse(args)
	if err == nil && len(pos) > 0 {
		fmt.Fprintf(f.e.Stderr, "unexpected argument %q\n", pos[0])
		err = f.Fail()
	}
	return err
}

// Fail prints the usage to stderr and returns ErrUsage, for a command line
// that parsed but is wrong (missing or extra arguments).
func (f *Flags) Fail() error {
	f.PrintUsage(f.e.Stderr)
	return ErrUsage
}

// PrintUsage prints "Usage: rack-gateway ..." and the flags to w.
func (f *Flags) PrintUsage(w io.Writer) {
	synopsis, desc, _ := strings.Cut(f.usage, "\n\n")
	for i, line := range strings.Split(synopsis, "\n") {
		if i == 0 {
			fmt.Fprintf(w, "Usage: rack-gateway %s\n", line)
		} else {
			fmt.Fprintf(w, "       rack-gateway %s\n", line)
		}
	}
	if desc != "" {
		fmt.Fprintf(w, "\n%s\n", desc)
	}
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// OrDash is s, or "-" when s is blank, for tables.
func OrDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// When shows an RFC 3339 time from the admin API (which may carry
// fractional seconds or an offset) in the one format the console and CLI
// use (timefmt.Display): "-" for none, the text itself (made printable) if
// it is not a time.
func When(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Printable(s)
	}
	return timefmt.Display(t)
}

// Printable makes stored text safe to print on a terminal: control
// characters (C0, DEL, C1), bidirectional overrides and invalid bytes are
// shown as escapes (\n, \x1b, \u202e), so a value recorded from a request
// can neither forge a line of output nor drive the terminal. The stored
// value is untouched.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029
}
