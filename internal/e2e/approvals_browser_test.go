package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/devidp"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// The people of the approvals browser test: a viewer, the owner of the CI
// token that asks (a deployer), and an admin who approves (newSetup's).
const (
	abViewer    = "e2e-viewer@example.com"
	abRequester = "e2e-ci@example.com"
	abApprover  = "e2e-admin@example.com"
	abCommit    = "89abcdef0123456789abcdef0123456789abcdef"
	// Hostile text, as a CI job may send it.
	abBranch  = `"><img src=x onerror=alert(1)>feature`
	abMessage = "<script>alert(1)</script> ship the fix"
)

// abServe starts `rack-gateway serve` with an approval rule (deploys of
// myapp on the default rack need one admin's approval; JSON configuration
// only), a dev identity provider (in this process) that knows the three
// people, and the viewer and requester as users; it returns the
// console's base URL and the requester's CI token.
func abServe(t *testing.T, s *setup) (string, string) {
	t.Helper()
	db := map[string]string{"RGW_DATABASE_URL": s.dsn}
	mustCLI(t, db, "admin", "create-user", abViewer, "--role", "viewer")
	mustCLI(t, db, "admin", "create-user", abRequester, "--role", "deployer")
	ci := strings.TrimSpace(mustCLI(t, db, "token", "create", "--user", abRequester, "--name", "ci-deploy"))
	file := filepath.Join(s.dir, "approvals.json")
	cfg := `{"approvals": {"rules": [{"rack": "default", "app": "myapp", "approvals": 1}]}}`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	gw := "http://" + addr
	const clientID, secret = "rack-gateway-e2e", "e2e-client-secret"
	var users []devidp.User
	for _, email := range []string{abViewer, abRequester, abApprover} {
		users = append(users, devidp.User{Email: email, Name: email, EmailVerified: true})
	}
	idp, err := devidp.New(devidp.Config{Users: users,
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
		"RGW_ADDR":               addr,
		"RGW_RACK_URL":           s.rackURL,
		"RGW_RACK_PASSWORD":      s.rackPass,
		"RGW_PUBLIC_URL":         gw,
		"RGW_OIDC_ISSUER":        issuer,
		"RGW_OIDC_CLIENT_ID":     clientID,
		"RGW_OIDC_CLIENT_SECRET": secret,
		"RGW_SHUTDOWN_TIMEOUT":   "10s",
	}
	for k, v := range s.auditEnv {
		env[k] = v
	}
	p := start(t, "gateway", env, "serve", "--config", file)
	waitHealthy(t, p, gw)
	t.Cleanup(func() { p.stop(t) })
	return gw, ci
}

// abAPI calls the deploy approval API with a token and decodes the
// request it answers with.
func abAPI(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// abSignIn signs a person in for the first time, enrols an authenticator
// app and lands on start; it returns the app's secret.
func abSignIn(t *testing.T, ctx context.Context, gw, start, email string) string {
	t.Helper()
	cbLogin(t, ctx, gw+start, email)
	secret, _ := cbEnrolTOTP(t, ctx, "")
	if loc := cbLocation(t, ctx); loc != gw+start {
		t.Fatalf("%s: after signing in at %s, not %s", email, loc, start)
	}
	return secret
}

// abDecide fills in the comment of a request page's form (approve or
// reject), sends it and waits for the step-up page that asks for a second
// factor with this very request.
func abDecide(t *testing.T, ctx context.Context, form, comment string) {
	t.Helper()
	cbMustHave(t, ctx, `form#`+form+` button`, "the "+form+" form")
	cbRun(t, ctx, form, chromedp.SetValue(chromedp.CSS(`form#`+form+` input[name="comment"]`), comment),
		chromedp.Click(chromedp.CSS(`form#`+form+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="rgw_mfa_code"]`)))
	if main := cbText(t, ctx, `main`); !strings.Contains(main, "with this very request") {
		t.Errorf("step-up page: %.400q", main)
	}
}

// abFlash waits for the page's flash message after a form's redirect.
func abFlash(t *testing.T, ctx context.Context, what string) string {
	t.Helper()
	var flash string
	testutil.Eventually(t, what, func() bool {
		flash = cbNow(t, ctx, `p.flash`)
		return flash != ""
	})
	return flash
}

// TestBrowserApprovals drives the console's deploy approval pages in
// Chromium through the built gateway: a CI token asks (with hostile text
// in its branch and message); a viewer sees the queue and the request as
// text, without the forms; the token's owner is refused after proving a
// second factor (two-person rule); an admin approves with a TOTP code on
// the step-up page, and the request is approved for the token.
// Screenshots of the queue, the request, the step-up, the refusal and the
// result are kept as artifacts.
func TestBrowserApprovals(t *testing.T) {
	browser := cbBrowser(t)
	s := newSetup(t, "sqlite:"+filepath.Join(t.TempDir(), "gw.db"))
	gw, ci := abServe(t, s)
	art := cbArtifacts(t)

	status, req := abAPI(t, "POST", gw+"/api/v1/deploy-approvals", ci, map[string]string{"rack": "default", "app": "myapp",
		"commit": abCommit, "branch": abBranch, "message": abMessage, "pr_url": "https://github.com/o/r/pull/7",
		"ci_url": "https://ci.example/jobs/42"})
	if status != http.StatusCreated || req["status"] != "pending" || req["id"] != float64(1) {
		t.Fatalf("the CI token's request: %d %v", status, req)
	}
	page := "/approvals/1"

	// 1. A viewer: the queue and the request, no forms, hostile text as text.
	viewer := cbPerson(t, browser)
	abSignIn(t, viewer, gw, "/approvals", abViewer)
	if nav := cbText(t, viewer, `header.top nav`); !strings.Contains(nav, "Approvals") {
		t.Errorf("the viewer's nav: %q", nav)
	}
	main := cbText(t, viewer, `main`)
	for _, want := range []string{"#1", "default / myapp", abCommit[:12], abBranch, "token ci-deploy of " + abRequester, "0 of 1", "pending"} {
		if !strings.Contains(main, want) {
			t.Errorf("queue lacks %q: %.600q", want, main)
		}
	}
	if cbHas(t, viewer, `main img`) || cbHas(t, viewer, `main script`) {
		t.Fatal("the request's text became markup in the queue")
	}
	cbMustHave(t, viewer, `main a[href="https://github.com/o/r/pull/7"][rel="noopener noreferrer"]`, "the PR link")
	cbSave(t, viewer, art, "approvals-queue")
	cbRun(t, viewer, "open the request", chromedp.Click(chromedp.CSS(`main a[href="`+page+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.request`)))
	if loc := cbLocation(t, viewer); loc != gw+page {
		t.Fatalf("the request's link led to %s", loc)
	}
	main = cbText(t, viewer, `main`)
	for _, want := range []string{abCommit, abBranch, abMessage, "https://ci.example/jobs/42", "0 of 1 needed"} {
		if !strings.Contains(main, want) {
			t.Errorf("request page lacks %q: %.800q", want, main)
		}
	}
	if cbHas(t, viewer, `main img`) || cbHas(t, viewer, `main script`) || cbHas(t, viewer, `form#approve`) || cbHas(t, viewer, `form#reject`) {
		t.Fatal("the viewer's request page has markup from the request, or the forms")
	}
	cbSave(t, viewer, art, "approval-detail-viewer")

	// 2. The token's owner: warned, asked for a second factor, refused.
	owner := cbPerson(t, browser)
	ownerSecret := abSignIn(t, owner, gw, page, abRequester)
	cbMustHave(t, owner, `#own-request`, "the warning that the request is the person's own")
	abDecide(t, owner, "approve", "my own")
	cbProve(t, owner, cbNextCode(t, ownerSecret), false)
	if flash := abFlash(t, owner, "the refusal"); !strings.Contains(flash, "you own the token that asked") ||
		!cbHas(t, owner, `p.flash.error`) || cbLocation(t, owner) != gw+page {
		t.Fatalf("self-approval: %q at %s", flash, cbLocation(t, owner))
	}
	cbSave(t, owner, art, "approval-self-refused")

	// 3. An admin approves, with a TOTP code on the step-up page.
	approver := cbPerson(t, browser)
	secret := abSignIn(t, approver, gw, page, abApprover)
	if cbHas(t, approver, `#own-request`) {
		t.Error("the approver is warned of their own request")
	}
	cbSave(t, approver, art, "approval-detail")
	abDecide(t, approver, "approve", "looks good")
	kept, err := chromedp.Run(approver, chromedp.OuterHTML(chromedp.CSS(`main`)))
	if err != nil || !strings.Contains(kept, `name="comment" value="looks good"`) {
		t.Fatalf("the step-up page does not keep the comment: %v\n%s", err, kept)
	}
	cbSave(t, approver, art, "approval-step-up")
	cbProve(t, approver, cbNextCode(t, secret), false)
	if flash := abFlash(t, approver, "the approval's message"); !strings.HasPrefix(flash, "Approved request #1: the deploy may run until ") ||
		cbLocation(t, approver) != gw+page {
		t.Fatalf("approve: %q at %s", flash, cbLocation(t, approver))
	}
	main = cbText(t, approver, `main`)
	if !strings.Contains(main, "approved") || !strings.Contains(main, "looks good") || !strings.Contains(main, abApprover) ||
		cbHas(t, approver, `form#approve`) {
		t.Errorf("the request page after approving: %.800q", main)
	}
	cbSave(t, approver, art, "approval-approved")
	if status, d := abAPI(t, "GET", gw+"/api/v1/deploy-approvals/1", ci, nil); status != 200 || d["status"] != "approved" {
		t.Fatalf("the request as the token sees it: %d %v", status, d)
	}

	// The queue lists it among the decided; the policy page, the rule.
	cbRun(t, approver, "the queue", chromedp.Navigate(gw+"/approvals?status=approved"), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if main := cbText(t, approver, `main`); !strings.Contains(main, "#1") || !strings.Contains(main, "1 of 1") {
		t.Errorf("approved queue: %.600q", main)
	}
	cbRun(t, approver, "the policy page", chromedp.Navigate(gw+"/policy"), chromedp.WaitVisible(chromedp.CSS(`#approvals`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#approvals`)))
	if rules := cbText(t, approver, `table.rules`); !strings.Contains(rules, "default") || !strings.Contains(rules, "myapp") ||
		!strings.Contains(rules, "admin") {
		t.Errorf("policy page's rules: %q", rules)
	}
	cbSave(t, approver, art, "approval-rules")
}
