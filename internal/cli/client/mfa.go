package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

const mfaUsage = `mfa verify [--rack NAME]   prove a second factor now (starts the step-up window)
mfa status [--rack NAME]   show your second factors and the step-up window

The code is read from the terminal (or standard input): a TOTP code, a
YubiKey touch, or a backup code. Calls that need a second factor also ask
for one when they are made, and are retried once with it.`

// MFA is `rack-gateway mfa` and its sub-verbs.
func MFA(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "mfa", mfaUsage)
	switch {
	case len(args) > 0 && cmdutil.IsHelpArg(args[0]):
		fs.PrintUsage(e.Stdout)
		return cmdutil.ErrHelp
	case len(args) > 0 && args[0] == "verify":
		return mfaVerify(ctx, e, args[1:])
	case len(args) > 0 && args[0] == "status":
		return mfaStatus(ctx, e, args[1:])
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		return fs.Verb(args[:1], "verify", "status")
	}
	return fs.Fail()
}

func mfaVerify(ctx context.Context, e *cmdutil.Env, args []string) error {
	t, err := clientTargetNoArgs(e, "mfa verify", "mfa verify [--rack NAME]", args)
	if err != nil {
		return err
	}
	if t.CI {
		return fmt.Errorf("API tokens have no second factor: mfa verify is for a person's session (rack-gateway login)")
	}
	code, err := t.prompt.code("", "")
	if err != nil {
		return err
	}
	var out apitypes.MFAVerified
	if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/mfa/verify", apitypes.MFAVerifyRequest{Code: code}, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "Verified (%s) on %s: calls that need a recent second factor are allowed for %s.\n",
		out.Method, t.label(), time.Duration(out.WindowSeconds)*time.Second)
	return nil
}

func mfaStatus(ctx context.Context, e *cmdutil.Env, args []string) error {
	t, err := clientTargetNoArgs(e, "mfa status", "mfa status [--rack NAME]", args)
	if err != nil {
		return err
	}
	var st apitypes.MFAStatus
	if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/mfa", &st); err != nil {
		return err
	}
	w := e.Stdout
	fmt.Fprintf(w, "Second factors on %s:\n", t.label())
	if len(st.Methods) == 0 {
		fmt.Fprintf(w, "  none: enrol one at %s/account/mfa/enrol\n", t.URL)
	}
	for _, m := range st.Methods {
		used := "never used"
		if m.LastUsedAt != "" {
			used = "last used " + cmdutil.When(m.LastUsedAt)
		}
		fmt.Fprintf(w, "  %-8s %-24s added %s, %s\n", m.Kind, cmdutil.Printable(m.Name), cmdutil.When(m.CreatedAt), used)
	}
	fmt.Fprintf(w, "Backup codes left: %d\n", st.BackupCodes)
	if st.Locked {
		fmt.Fprintln(w, "LOCKED after too many failed attempts: ask a gateway admin to unlock")
	}
	switch {
	case !st.SignedIn:
		fmt.Fprintln(w, "This session has not passed its second factor yet: run rack-gateway mfa verify"+rackArg(t))
	case st.WindowSeconds > 0:
		fmt.Fprintf(w, "Step-up window: %s left\n", time.Duration(st.WindowSeconds)*time.Second)
	default:
		fmt.Fprintln(w, "Step-up window: closed (rack-gateway mfa verify opens it)")
	}
	return nil
}

// browserVerify proves a second factor in a browser (a passkey, which a
// terminal cannot use): the gateway opens a request bound to this session,
// the person opens its page in a browser signed in as them and verifies
// there, and the answer is the code to send with the call, once.
func browserVerify(e *cmdutil.Env, t *target) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var b apitypes.MFABrowser
	if err := explain(t, rawCall(ctx, t.URL, t.Token, http.MethodPost, "/api/v1/mfa/browser", nil, &b)); err != nil {
		return "", err
	}
	u := t.URL + b.Path
	fmt.Fprintf(e.Stderr, "Open this page in a browser signed in to the gateway as you, and verify there:\n\n    %s\n\n", u)
	if !truthy(e.Getenv("RACK_GATEWAY_NO_BROWSER")) {
		if err := openBrowser(e, u); err != nil {
			fmt.Fprintf(e.Stderr, "Could not open a browser (%v): open the URL above yourself.\n", err)
		}
	}
	fmt.Fprintln(e.Stderr, "Waiting for the browser...")
	for {
		if err := explain(t, rawCall(ctx, t.URL, t.Token, http.MethodGet, "/api/v1/mfa/browser/"+b.ID, nil, &b)); err != nil {
			return "", err
		}
		if b.Done {
			return "browser:" + b.ID, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the browser did not verify within 5 minutes: try again")
		case <-time.After(claimInterval):
		}
	}
}
