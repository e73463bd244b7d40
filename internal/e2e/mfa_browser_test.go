package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/devidp"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// mbEmail is the person of the passkey test (newSetup's admin).
const mbEmail = "e2e-admin@example.com"

// mbServe starts `rack-gateway serve` for a browser at
// http://localhost:PORT, the origin passkeys are bound to (an IP address
// is not a valid relying party id; localhost is a secure context over
// plain http): the public URL, the WebAuthn relying party and origin,
// and a dev identity provider (in this process) that knows mbEmail. It
// returns the console's base URL.
func mbServe(t *testing.T, s *setup) string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	gw := "http://localhost:" + port
	const clientID, secret = "rack-gateway-e2e", "e2e-client-secret"
	idp, err := devidp.New(devidp.Config{Users: []devidp.User{{Email: mbEmail, Name: "E2E Admin", EmailVerified: true}},
		Clients: map[string]devidp.Client{clientID: {Secret: secret, RedirectURIs: []string{gw + "/auth/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := idp.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	env := map[string]string{
		"RGW_ADDR":                 addr,
		"RGW_RACK_URL":             s.rackURL,
		"RGW_RACK_PASSWORD":        s.rackPass,
		"RGW_PUBLIC_URL":           gw,
		"RGW_OIDC_ISSUER":          issuer,
		"RGW_OIDC_CLIENT_ID":       clientID,
		"RGW_OIDC_CLIENT_SECRET":   secret,
		"RGW_MFA_WEBAUTHN_RP_ID":   "localhost",
		"RGW_MFA_WEBAUTHN_ORIGINS": gw,
		"RGW_SHUTDOWN_TIMEOUT":     "10s",
	}
	for k, v := range s.auditEnv {
		env[k] = v
	}
	p := start(t, "gateway", env, "serve")
	waitHealthy(t, p, "http://"+addr)
	t.Cleanup(func() { p.stop(t) })
	return gw
}

// mbAuthenticator gives the browser tab a virtual platform authenticator
// (a passkey provider with user verification that answers by itself).
func mbAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return fmt.Errorf("WebAuthn.enable: %w", err)
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{
				Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
				Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true,
				HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
}

// mbPasskey presses the page's passkey button and waits until the browser
// has left the page (webauthn.js posts the form after the ceremony).
func mbPasskey(t *testing.T, ctx context.Context, form, what string) {
	t.Helper()
	from := cbLocation(t, ctx)
	cbRun(t, ctx, what, chromedp.WaitVisible(chromedp.CSS(form+` button`)), chromedp.Click(chromedp.CSS(form+` button`)))
	testutil.Eventually(t, what+": the form to be posted", func() bool {
		if msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var e=document.querySelector("[data-webauthn-error]");return e&&!e.hidden?e.textContent:""})()`)); msg != "" {
			t.Fatalf("%s: webauthn.js says %q", what, msg)
		}
		return cbLocation(t, ctx) != from && !cbHas(t, ctx, form)
	})
	cbRun(t, ctx, what+": the next page", chromedp.WaitVisible(chromedp.CSS(`main h1`)))
}

// TestBrowserPasskey: WebAuthn end to end, in Chromium with a virtual
// authenticator, through the built gateway: a first sign-in registers a
// passkey (and gets the backup codes), a new session signs in with it
// (trusting the browser), and a page that needs a recent second factor
// in a session the trusted browser signed in is stepped up with it.
func TestBrowserPasskey(t *testing.T) {
	browser := cbBrowser(t)
	s := newSetup(t, "sqlite:"+filepath.Join(t.TempDir(), "gw.db"))
	gw := mbServe(t, s)
	art := cbArtifacts(t)
	ctx := cbPerson(t, browser)
	mbAuthenticator(t, ctx)

	// 1. First sign-in: register a passkey.
	cbLogin(t, ctx, gw+"/", mbEmail)
	if loc := cbLocation(t, ctx); !strings.HasPrefix(loc, gw+"/account/mfa/enrol?") {
		t.Fatalf("first sign-in at %s, not the enrolment (is console.Options.MFA set by the gateway?)", loc)
	}
	cbRun(t, ctx, "name the passkey", chromedp.SetValue(chromedp.CSS(`form[data-webauthn="register"] input[name="name"]`), "laptop"))
	mbPasskey(t, ctx, `form[data-webauthn="register"]`, "register a passkey")
	if codes := strings.Fields(cbText(t, ctx, `#backup-codes`)); len(codes) != 10 {
		t.Fatalf("after registering: %d backup codes at %s", len(codes), cbLocation(t, ctx))
	}
	cbSave(t, ctx, art, "mfa-passkey-registered")
	cbRun(t, ctx, "continue", chromedp.Click(chromedp.CSS(`main a.button`)), chromedp.WaitVisible(chromedp.CSS(`header.top nav`)))
	if m := mbMethods(t, gw, s.token); len(m) != 1 || m[0] != "webauthn:laptop" {
		t.Fatalf("methods after registering: %v", m)
	}

	// 2. A new session: the challenge, with the passkey (trusting this
	// browser).
	cbSignOut(t, ctx)
	cbLogin(t, ctx, gw+"/account", mbEmail)
	if loc := cbLocation(t, ctx); !strings.HasPrefix(loc, gw+"/mfa/challenge?") {
		t.Fatalf("second sign-in at %s, not the challenge", loc)
	}
	cbRun(t, ctx, "the challenge page", chromedp.WaitVisible(chromedp.CSS(`form[data-webauthn="login"] button`)))
	cbMustHave(t, ctx, `form[data-webauthn="login"] input[name="trust"]`, `"trust this browser" checkbox (is console.Options.TrustDays set by the gateway?)`)
	cbRun(t, ctx, "trust this browser", chromedp.Click(chromedp.CSS(`form[data-webauthn="login"] input[name="trust"]`)))
	cbSave(t, ctx, art, "mfa-challenge-passkey")
	mbPasskey(t, ctx, `form[data-webauthn="login"]`, "sign in with the passkey")
	if loc := cbLocation(t, ctx); loc != gw+"/account" {
		t.Fatalf("after the passkey sign-in at %s", loc)
	}
	if main := cbText(t, ctx, `main`); !strings.Contains(main, "passkey") || !strings.Contains(main, "laptop") {
		t.Errorf("account page: %.400q", main)
	}

	// 3. Signed in again by the trusted browser alone: no challenge, no
	// recent factor; the users page steps up with the passkey.
	cbSignOut(t, ctx)
	cbLogin(t, ctx, gw+"/users", mbEmail)
	if loc := cbLocation(t, ctx); !strings.HasPrefix(loc, gw+"/mfa/verify?") {
		t.Fatalf("users page in the trusted browser's session: at %s, not the step-up", loc)
	}
	cbSave(t, ctx, art, "mfa-verify-passkey")
	mbPasskey(t, ctx, `form[data-webauthn="login"]`, "step up with the passkey")
	if loc, h := cbLocation(t, ctx), cbText(t, ctx, `main h1`); loc != gw+"/users" || h != "Users" {
		t.Fatalf("after the step-up: at %s, %q", loc, h)
	}
}

// mbMethods lists a person's second factors ("kind:name") through the
// admin API.
func mbMethods(t *testing.T, gw, token string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", gw+"/api/v1/users/"+mbEmail+"/mfa", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Methods []struct{ Kind, Name string } }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("MFA status: %d %v", resp.StatusCode, err)
	}
	var out []string
	for _, m := range st.Methods {
		out = append(out, m.Kind+":"+m.Name)
	}
	return out
}
