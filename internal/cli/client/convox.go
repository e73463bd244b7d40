package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

const convoxUsage = `convox [--rack NAME] [--] ARGS...

Runs your convox CLI (from PATH, or $RACK_GATEWAY_CONVOX) with RACK_URL set
to the rack's gateway and your session, CONVOX_RACK unset, and passes its
exit status through. With a login session, the calls go through a local
relay on 127.0.0.1 that asks you for a second factor (a code from your
authenticator app, a YubiKey touch or a backup code) when the gateway
needs one, and then sends the call again. Only a leading --rack is read here; everything else
goes to convox. With RACK_GATEWAY_URL and RACK_GATEWAY_TOKEN set (CI), those
are used and no config file is read.`

// Convox is `rack-gateway convox`.
func Convox(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "convox", convoxUsage)
	rackFlag(fs.FlagSet)
	var rack string
	// Read only our leading flags: convox has its own (-a, -r, ...).
loop:
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			args = args[1:]
			break loop
		case cmdutil.IsHelpArg(a):
			fs.PrintUsage(e.Stdout)
			return cmdutil.ErrHelp
		case a == "--rack" || a == "-rack":
			if len(args) < 2 {
				return fs.Fail()
			}
			rack, args = args[1], args[2:]
		case strings.HasPrefix(a, "--rack=") || strings.HasPrefix(a, "-rack="):
			rack, args = a[strings.IndexByte(a, '=')+1:], args[1:]
		default:
			break loop
		}
	}
	t, err := openTarget(e, rack)
	if err != nil {
		return err
	}
	bin, err := findConvox(e)
	if err != nil {
		return err
	}
	rackURL, err := convoxRackURL(t)
	if err != nil {
		return err
	}
	if !t.CI { // a person's session: calls may need a second factor
		gw, _ := url.Parse(t.URL)
		local, stop, err := startMFAProxy(gw, t.prompt)
		if err != nil {
			return err
		}
		defer stop()
		if rackURL, err = viaLocal(rackURL, local); err != nil {
			return err
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(os.Environ(), rackURL)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.In(), e.Stdout, e.Stderr
	// Not CommandContext: Ctrl-C reaches convox from the terminal, and
	// convox decides how to stop; this process waits for it.
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(interface {
			Signaled() bool
			Signal() syscall.Signal
		}); code < 0 && ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		if code <= 0 {
			code = 1
		}
		return cmdutil.ExitStatus(code)
	default:
		return fmt.Errorf("run %s: %v", bin, err)
	}
}

// findConvox finds the user's convox CLI: $RACK_GATEWAY_CONVOX, else
// "convox" on PATH.
func findConvox(e *cmdutil.Env) (string, error) {
	if p := e.Getenv("RACK_GATEWAY_CONVOX"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("RACK_GATEWAY_CONVOX=%s is not an executable file", p)
		}
		return p, nil
	}
	name := "convox"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	for _, dir := range filepath.SplitList(e.Getenv("PATH")) {
		if !filepath.IsAbs(dir) {
			continue // never run a convox from a relative PATH entry
		}
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the convox CLI was not found on PATH: install the convox CLI: https://docs.convox.com/installation/cli " +
		"(or set RACK_GATEWAY_CONVOX to its path)")
}

// convoxRackURL is the RACK_URL for the convox CLI: the gateway URL with
// the token as Basic password and the /rack path (http stays http).
func convoxRackURL(t *target) (string, error) {
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("saved gateway URL %q for %s is invalid: log in again", t.URL, t.label())
	}
	if t.Token == "" {
		return "", fmt.Errorf("no token saved for %s: run %s", t.label(), t.relogin())
	}
	u.User = url.UserPassword("convox", t.Token)
	u.Path = strings.TrimRight(u.Path, "/") + "/rack"
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// viaLocal points a RACK_URL at the local second-factor proxy, keeping
// its credentials and path.
func viaLocal(rackURL, local string) (string, error) {
	u, err := url.Parse(rackURL)
	if err != nil {
		return "", err
	}
	l, err := url.Parse(local)
	if err != nil {
		return "", err
	}
	u.Scheme, u.Host = l.Scheme, l.Host
	return u.String(), nil
}

// childEnv is env without RACK_URL and CONVOX_RACK, plus RACK_URL.
func childEnv(env []string, rackURL string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if sameEnvKey(k, "RACK_URL") || sameEnvKey(k, "CONVOX_RACK") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "RACK_URL="+rackURL)
}

func sameEnvKey(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// RackEnv is `rack-gateway env`.
func RackEnv(ctx context.Context, e *cmdutil.Env, args []string) error {
	t, err := clientTargetNoArgs(e, "env", "env [--rack NAME]\n\nPrints `export RACK_URL='...'` for the rack, for eval \"$(rack-gateway env)\".", args)
	if err != nil {
		return err
	}
	u, err := convoxRackURL(t)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "export RACK_URL=%s\n", shellQuote(u))
	return nil
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
