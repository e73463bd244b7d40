package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"golang.org/x/oauth2"
)

// claimInterval is how often the CLI asks whether the browser login is
// done; tests shorten it. A Retry-After from the gateway (up to
// maxClaimInterval) takes precedence.
var (
	claimInterval    = time.Second
	maxClaimInterval = 10 * time.Second
)

const loginUsage = `login [URL] [--name NAME] [--no-browser] [--timeout 5m]

Signs in through the gateway's browser login and saves the session as rack
NAME (default: from the URL's host), which becomes the current rack.
Without URL, renews the session of rack NAME (default: the current rack).

The login URL is always printed, for SSH and headless machines; the browser
is opened with xdg-open/open/rundll32, or with the command in
$RACK_GATEWAY_BROWSER (run with the URL as last argument), unless
--no-browser or RACK_GATEWAY_NO_BROWSER=1.`

// Login is `rack-gateway login`.
func Login(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "login", loginUsage)
	name := fs.String("name", "", "name to save the login under (default: from the URL's host)")
	noBrowser := fs.Bool("no-browser", false, "do not open a browser; only print the URL")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser login")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 || *timeout <= 0 {
		return fs.Fail()
	}
	// Read the config first: a config we may not use fails before the
	// browser opens.
	cfg, _, err := loadClientConfig(e)
	if err != nil {
		return err
	}
	var gw string
	if len(pos) == 1 {
		if gw, err = normalizeGatewayURL(pos[0]); err != nil {
			return err
		}
		if *name == "" {
			*name = defaultRackName(gw)
		}
	} else {
		if *name == "" {
			*name = cfg.Current
		}
		r, ok := cfg.Racks[*name]
		if *name == "" || !ok {
			return fs.Fail()
		}
		gw = r.URL
	}
	if !validRackName(*name) {
		return fmt.Errorf("invalid --name %q: use 1–64 letters, digits, '.', '_' or '-'", *name)
	}
	// Fail fast when nothing answers at the URL (a mistyped host, a
	// gateway that is down): the browser flow would only wait for --timeout.
	if err := probeGateway(ctx, gw); err != nil {
		return err
	}

	request := randomB64URL(32)
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	loginURL := gw + "/auth/cli?" + url.Values{"request": {request}, "challenge": {challenge}, "name": {*name}}.Encode()

	fmt.Fprintf(e.Stderr, "To log in to %s (%s), open this URL in a browser:\n\n    %s\n\n", *name, gw, loginURL)
	fmt.Fprintf(e.Stderr, "Confirmation code: %s (continue only if the browser page shows the same code)\n", cliVerificationCode(challenge))
	if *noBrowser || truthy(e.Getenv("RACK_GATEWAY_NO_BROWSER")) {
		// Only the printed URL.
	} else if err := openBrowser(e, loginURL); err != nil {
		fmt.Fprintf(e.Stderr, "Could not open a browser (%v): open the URL above yourself.\n", err)
	}
	fmt.Fprintln(e.Stderr, "Waiting for the login to complete in the browser...")

	res, err := pollClaim(ctx, gw, *name, request, verifier, *timeout)
	if err != nil {
		return err
	}

	if _, err := updateClientConfig(e, func(cfg *clientConfig) error {
		cfg.Racks[*name] = &rackLogin{URL: gw, Token: res.Token, Email: res.Email, Role: res.Role, ExpiresAt: res.ExpiresAt}
		cfg.Current = *name
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "Logged in to %s (%s) as %s (role %s); session expires %s\n",
		*name, gw, res.Email, res.Role, fmtExpiry(res.ExpiresAt))
	return signInSecondFactor(ctx, e, &target{Name: *name, URL: gw, Token: res.Token, Current: true, prompt: newPrompter(e)})
}

// signInSecondFactor completes a new CLI session's sign-in with a second
// factor, when the gateway requires one: the session can do nothing
// before.
func signInSecondFactor(ctx context.Context, e *cmdutil.Env, t *target) error {
	var st apitypes.MFAStatus
	if err := rawCall(ctx, t.URL, t.Token, http.MethodGet, "/api/v1/mfa", nil, &st); err != nil || !st.Required || st.SignedIn {
		return nil // an older gateway, or nothing to do
	}
	if len(st.Methods) == 0 {
		fmt.Fprintf(e.Stderr, "This gateway requires a second factor and you have none yet: enrol one at %s/account/mfa/enrol, then run rack-gateway mfa verify\n", t.URL)
		return nil
	}
	code, err := t.prompt.code("sign-in", "")
	if err != nil {
		return fmt.Errorf("the session is saved but cannot be used until it passes its second factor: run rack-gateway mfa verify (%w)", err)
	}
	var out apitypes.MFAVerified
	if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/mfa/verify", apitypes.MFAVerifyRequest{Code: code}, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "Second factor verified (%s).\n", out.Method)
	return nil
}

// probeTimeout bounds login's first contact with the gateway, so a host
// that does not resolve, refuses or never answers fails within it.
var probeTimeout = 10 * time.Second

// probeGateway checks that something answers HTTP at gw (GET /healthz),
// within probeTimeout. Any answer will do: the first claim says whether
// it is a gateway that offers browser login.
func probeGateway(ctx context.Context, gw string) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, gw+"/healthz", nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", clientUserAgent)
	resp, err := clientHTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("login cancelled")
		}
		return &unreachableError{gw, err}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only the connection's reuse depends on it
	resp.Body.Close()
	return nil
}

// claimAnswer is the gateway's answer to a claim: a Status "pending"
// (202), or the session.
type claimAnswer struct {
	apitypes.Status
	apitypes.ClaimResponse
}

// pollClaim asks the gateway for the session until the browser login is
// done, refused, or the timeout passes.
func pollClaim(ctx context.Context, gw, name, request, verifier string, timeout time.Duration) (*claimAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	again := "run `rack-gateway login " + gw + " --name " + name + "` again"
	var lastErr error
	started := false // the gateway knows the login: the browser opened the page
	for {
		wait := claimInterval
		ans, retryAfter, err := claimOnce(ctx, gw, request, verifier)
		if retryAfter > wait {
			wait = min(retryAfter, maxClaimInterval)
		}
		var g *gatewayError
		switch {
		case err == nil && ans.Status.Status == "pending":
			started = true
		case err == nil:
			if ans.Token == "" {
				return nil, fmt.Errorf("the gateway at %s answered the login without a session token: is this a rack-gateway URL?", gw)
			}
			return ans, nil
		case errors.As(err, &g):
			switch g.Status {
			case http.StatusNotFound:
				if g.Reason == "" {
					return nil, fmt.Errorf("the gateway at %s does not offer browser login (404 from /api/v1/cli/login/claim): is the URL right?", gw)
				}
				if !started {
					// The gateway learns the request only when the browser
					// opens the login page: keep waiting.
					break
				}
				return nil, fmt.Errorf("the gateway no longer knows this login: %s", again)
			case http.StatusGone:
				return nil, fmt.Errorf("the login expired before it was completed: %s", again)
			case http.StatusForbidden:
				if g.Reason == "user_disabled" {
					return nil, fmt.Errorf("your account is disabled on %s: ask a gateway admin", gw)
				}
				return nil, fmt.Errorf("the gateway refused the login (%s): %s", orDefault(g.Msg, "forbidden"), again)
			case http.StatusConflict:
				if g.Reason == "login_refused" {
					return nil, fmt.Errorf("the login was refused in the browser (see the browser window): %s", again)
				}
				return nil, fmt.Errorf("this login was already used (%s): %s", orDefault(g.Msg, "conflict"), again)
			case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				lastErr = fmt.Errorf("the gateway answered %d %s", g.Status, http.StatusText(g.Status))
			default:
				return nil, fmt.Errorf("the gateway at %s refused the login with %d %s: %s",
					gw, g.Status, orDefault(g.Msg, http.StatusText(g.Status)), again)
			}
		case ctx.Err() != nil:
		default:
			lastErr = err // unreachable for now: keep trying until the timeout
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("the login was not completed within %v", timeout)
				if !started {
					msg = fmt.Sprintf("the login page was not opened within %v", timeout)
				}
				if lastErr != nil {
					msg += " (last error: " + lastErr.Error() + ")"
				}
				return nil, fmt.Errorf("%s: %s, or pass a longer --timeout", msg, again)
			}
			return nil, errors.New("login cancelled")
		case <-time.After(wait):
		}
	}
}

// claimOnce posts one claim and returns the answer and the Retry-After.
func claimOnce(ctx context.Context, gw, request, verifier string) (*claimAnswer, time.Duration, error) {
	var ans claimAnswer
	err := rawCall(ctx, gw, "", http.MethodPost, "/api/v1/cli/login/claim",
		apitypes.ClaimRequest{Request: request, Verifier: verifier}, &ans)
	if err != nil {
		var g *gatewayError
		if errors.As(err, &g) && g.Status == http.StatusTooManyRequests {
			return nil, 5 * time.Second, err
		}
		return nil, 0, err
	}
	// The gateway sends Retry-After with 202 pending; rawCall does not
	// expose headers, and one second is polite enough, so it is only
	// honoured for 429 above.
	return &ans, 0, nil
}

// cliVerificationCode is the short code the gateway's confirmation page
// shows for this challenge (it must equal login.VerificationCode in
// internal/web/login): the person compares both before continuing.
func cliVerificationCode(challenge string) string {
	sum := sha256.Sum256([]byte("rack-gateway cli login\x00" + challenge))
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:5])
	return s[:4] + "-" + s[4:8]
}

// openBrowser opens url with $RACK_GATEWAY_BROWSER (a command, split on
// spaces, given the URL as last argument) or the platform's opener. It
// does not wait for the browser.
func openBrowser(e *cmdutil.Env, u string) error {
	var argv []string
	if b := strings.Fields(e.Getenv("RACK_GATEWAY_BROWSER")); len(b) > 0 {
		argv = append(b, u)
	} else {
		switch runtime.GOOS {
		case "darwin":
			argv = []string{"open", u}
		case "windows":
			argv = []string{"rundll32", "url.dll,FileProtocolHandler", u}
		default:
			if e.Getenv("DISPLAY") == "" && e.Getenv("WAYLAND_DISPLAY") == "" && e.Getenv("BROWSER") == "" {
				return errors.New("no display")
			}
			argv = []string{"xdg-open", u}
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() //nolint:errcheck // the opener's exit status tells nothing useful
	return nil
}

func randomB64URL(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func truthy(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
