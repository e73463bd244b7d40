package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// prompter asks the person at the terminal for a second factor: a TOTP
// code, a YubiKey touch or a backup code. It reads the controlling
// terminal when there is one (the convox CLI may be reading standard
// input at the same time) and standard input otherwise, a line at a time.
// One question at a time: concurrent calls that need a code wait.
type prompter struct {
	e  *cmdutil.Env
	mu sync.Mutex
	in *bufio.Reader
	// browser, when set, proves the factor in a browser instead (a
	// passkey): the person presses Enter at the question.
	browser func() (string, error)
}

func newPrompter(e *cmdutil.Env) *prompter { return &prompter{e: e} }

// errNoCode: nothing was typed (end of input).
var errNoCode = errors.New("no second-factor code was given")

// code asks for a code for a call that needs level; msg is the gateway's
// own explanation.
func (p *prompter) code(level, msg string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.in == nil {
		var r io.Reader = p.e.In()
		if p.e.Stdin == nil && p.e.Getenv("RACK_GATEWAY_MFA_STDIN") == "" {
			if tty, err := os.Open("/dev/tty"); err == nil {
				r = tty // kept open for the life of the command
			}
		}
		p.in = bufio.NewReader(r)
	}
	what := "a second factor"
	switch level {
	case "every-request":
		what = "a second factor for this very call"
	case "recent":
		what = "a recent second factor"
	case "sign-in":
		what = "this session's sign-in second factor"
	}
	fmt.Fprintf(p.e.Stderr, "rack-gateway: the gateway asks for %s.\n", what)
	if msg != "" {
		fmt.Fprintf(p.e.Stderr, "  (%s)\n", strings.TrimPrefix(msg, "rack-gateway: "))
	}
	if p.browser != nil {
		fmt.Fprint(p.e.Stderr, "Code from your authenticator app, YubiKey or a backup code (or Enter to use a passkey in a browser): ")
	} else {
		fmt.Fprint(p.e.Stderr, "Code from your authenticator app, YubiKey or a backup code: ")
	}
	line, err := p.in.ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" && err == nil && p.browser != nil {
		return p.browser()
	}
	if line == "" {
		fmt.Fprintln(p.e.Stderr)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return "", errNoCode
	}
	return line, nil
}
