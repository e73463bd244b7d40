package client

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// verbs are the client's commands by name, as the command table in
// internal/cli names them (its tests run them through the real table).
var verbs = map[string]cmdutil.RunFunc{
	"login": Login, "logout": Logout, "racks": Racks, "switch": Switch, "whoami": Whoami,
	"env": RackEnv, "convox": Convox, "users": Users, "sessions": Sessions, "tokens": Tokens,
}

// runLine runs one client command line as the binary does and returns
// its exit status.
func runLine(ctx context.Context, e *cmdutil.Env, args []string) int {
	f, ok := verbs[args[0]]
	if !ok {
		panic("no client verb " + args[0])
	}
	return cmdutil.Exit(e, args[0], f(ctx, e, args[1:]))
}

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	e := &cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := runLine(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// runExit is run with an empty stdin, for commands that start a child
// (convox).
func runExit(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	e := &cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader("")}
	code = runLine(context.Background(), e, args)
	return code, out.String(), errb.String()
}
