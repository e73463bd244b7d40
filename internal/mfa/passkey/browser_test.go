package passkey_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
)

// chromium is Debian's Chromium, installed by .ci/run.
const chromium = "/usr/bin/chromium"

// scriptPath is the console's script, the one under test.
const scriptPath = "../../web/console/static/webauthn.js"

// csp is what the console serves: no inline script, so the page works only
// if webauthn.js needs none.
const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'"

// finished is one Finish* call of the test app.
type finished struct {
	kind, user  string
	state, body []byte
	cred        passkey.Credential
	err         error
}

// testApp is a minimal relying party: pages with the console's form
// contract, options endpoints, and POST endpoints that call Finish*. The
// "web session" is the user query parameter; the pending state of each
// session is held here and deleted on first use.
type testApp struct {
	mu         sync.Mutex
	begin      *passkey.Service // issues options and states
	finish     *passkey.Service // verifies (swapped for the wrong-origin case)
	users      map[string]*passkey.User
	pending    map[string][]byte // kind+"/"+user → state
	afterBegin func()            // runs after each Begin* (the expiry case moves the clock)
	done       chan finished
}

func (a *testApp) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/webauthn.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, scriptPath)
	})
	for _, kind := range []string{"register", "login"} {
		mux.HandleFunc("GET /"+kind, func(w http.ResponseWriter, r *http.Request) { a.page(w, r, kind) })
		mux.HandleFunc("GET /"+kind+"/options", func(w http.ResponseWriter, r *http.Request) { a.options(w, r, kind) })
		mux.HandleFunc("POST /"+kind, func(w http.ResponseWriter, r *http.Request) { a.post(w, r, kind) })
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

func (a *testApp) page(w http.ResponseWriter, r *http.Request, kind string) {
	q := url.Values{"user": {r.URL.Query().Get("user")}}.Encode()
	auto := ""
	if r.URL.Query().Has("auto") {
		auto = " data-webauthn-auto"
	}
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%[1]s</title>
<script src="/static/webauthn.js"></script></head><body>
<form method="post" action="/%[1]s?%[2]s" data-webauthn="%[1]s" data-options-url="/%[1]s/options?%[2]s"%[3]s>
<input type="hidden" name="csrf" value="token-1">
<p id="error" data-webauthn-error hidden></p>
<button id="go" type="submit">Use a passkey</button>
</form></body></html>`, kind, html.EscapeString(q), auto)
}

func (a *testApp) options(w http.ResponseWriter, r *http.Request, kind string) {
	name := r.URL.Query().Get("user")
	a.mu.Lock()
	u := a.user(name)
	var opts, state []byte
	var err error
	if kind == "register" {
		opts, state, err = a.begin.BeginRegistration(*u)
	} else {
		opts, state, err = a.begin.BeginLogin(*u)
	}
	if err == nil {
		a.pending[kind+"/"+name] = state // replaces any earlier pending ceremony
	}
	after := a.afterBegin
	a.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if after != nil {
		after()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(opts)
}

func (a *testApp) post(w http.ResponseWriter, r *http.Request, kind string) {
	name := r.URL.Query().Get("user")
	if r.PostFormValue("csrf") != "token-1" {
		http.Error(w, "the form's other fields were not submitted", http.StatusForbidden)
		return
	}
	body := []byte(r.PostFormValue("credential"))
	a.mu.Lock()
	u := a.user(name)
	state := a.pending[kind+"/"+name]
	delete(a.pending, kind+"/"+name) // single use, whatever the outcome
	var cred passkey.Credential
	var err error
	if kind == "register" {
		if cred, err = a.finish.FinishRegistration(*u, state, body); err == nil {
			u.Credentials = append(u.Credentials, cred)
		}
	} else {
		if cred, err = a.finish.FinishLogin(*u, state, body); err == nil {
			for i := range u.Credentials {
				if u.Credentials[i].IDString() == cred.IDString() {
					u.Credentials[i] = cred
				}
			}
		}
	}
	a.mu.Unlock()
	a.done <- finished{kind: kind, user: name, state: state, body: body, cred: cred, err: err}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<!doctype html><p id="refused">%s</p>`, html.EscapeString(err.Error()))
		return
	}
	fmt.Fprintf(w, `<!doctype html><p id="done">%s ok</p>`, kind)
}

// user returns the named user, made on first use. a.mu must be held.
func (a *testApp) user(name string) *passkey.User {
	u, ok := a.users[name]
	if !ok {
		u = &passkey.User{ID: []byte(fmt.Sprintf("handle-%-9s", name)), Name: name + "@example.com", DisplayName: name}
		a.users[name] = u
	}
	return u
}

func (a *testApp) snapshot(name string) passkey.User {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := *a.user(name)
	u.Credentials = append([]passkey.Credential(nil), u.Credentials...)
	return u
}

func (a *testApp) set(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// next waits for the app's next Finish* call.
func (a *testApp) next(t *testing.T, what string) finished {
	t.Helper()
	select {
	case f := <-a.done:
		return f
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: the browser never posted", what)
		return finished{}
	}
}

// startBrowser starts headless Chromium and returns a tab with a virtual
// platform authenticator (a passkey provider with user verification).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("RGW_REQUIRE_ALL") == "1" {
			t.Fatalf("%s not installed but RGW_REQUIRE_ALL=1", chromium)
		}
		t.Skipf("%s not installed; skipping browser tests", chromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return fmt.Errorf("WebAuthn.enable: %w", err)
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{
				Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                cdpwebauthn.Ctap2versionCtap21,
				Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			},
		})
		if err != nil {
			return fmt.Errorf("WebAuthn.addVirtualAuthenticator: %w", err)
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("start chromium with a virtual authenticator: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ceremony opens the kind's page for user in the browser, presses the
// button and returns what the app's Finish* made of the browser's POST.
func ceremony(t *testing.T, ctx context.Context, app *testApp, base, kind, user string) finished {
	t.Helper()
	what := kind + " " + user
	run(t, ctx, what, chromedp.Navigate(base+"/"+kind+"?user="+user),
		chromedp.WaitVisible(chromedp.CSS(`#go`)), chromedp.Click(chromedp.CSS(`#go`)))
	f := app.next(t, what)
	if f.kind != kind || f.user != user {
		t.Fatalf("%s: the app finished %s %s", what, f.kind, f.user)
	}
	result := `#done`
	if f.err != nil {
		result = `#refused`
	}
	run(t, ctx, what+": result page", chromedp.WaitVisible(chromedp.CSS(result)))
	return f
}

// replay posts a captured credential body to the app as the form would.
func replay(t *testing.T, base, kind, user string, body []byte) int {
	t.Helper()
	res, err := http.PostForm(base+"/"+kind+"?user="+user, url.Values{"csrf": {"token-1"}, "credential": {string(body)}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

func mustService(t *testing.T, origin string, now func() time.Time) *passkey.Service {
	t.Helper()
	svc, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "Rack Gateway test",
		Origins: []string{origin}, TTL: 5 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	} else {
		t.Logf("%s: refused: %v", what, err)
	}
}

// TestBrowserPasskey drives Debian's Chromium with a virtual authenticator
// through webauthn.js against a relying party built on this package:
// registration, logins with an increasing counter, the exclusion of an
// already registered authenticator, and the refusals (replay, another
// session's challenge, a foreign credential, wrong origin, expired state).
func TestBrowserPasskey(t *testing.T) {
	ctx := startBrowser(t)

	// Listen on 127.0.0.1 but browse to localhost: IP addresses are not
	// valid RP IDs, and localhost is a secure context over plain http.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	app := &testApp{users: map[string]*passkey.User{}, pending: map[string][]byte{}, done: make(chan finished, 16)}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.handler()}}
	srv.Start()
	t.Cleanup(srv.Close)
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	svc := mustService(t, base, clk.Now)
	app.begin, app.finish = svc, svc

	// 1. Register a passkey for alice, then log in twice: the counter goes up.
	reg := ceremony(t, ctx, app, base, "register", "alice")
	if reg.err != nil {
		t.Fatalf("register alice: %v", reg.err)
	}
	c0 := reg.cred
	t.Logf("registered credential %s: counter %d, transports %v, attachment %q, UV %v",
		c0.IDString(), c0.SignCount, c0.Transports, c0.Attachment, c0.UserVerified)
	if len(c0.ID) == 0 || len(c0.PublicKey) == 0 || !c0.UserPresent || !c0.UserVerified {
		t.Errorf("registered credential %+v", c0)
	}
	if !strings.Contains(strings.Join(c0.Transports, ","), "internal") || c0.Attachment != "platform" {
		t.Errorf("transports %v attachment %q: want internal, platform", c0.Transports, c0.Attachment)
	}
	login1 := ceremony(t, ctx, app, base, "login", "alice")
	if login1.err != nil {
		t.Fatalf("login alice: %v", login1.err)
	}
	login2 := ceremony(t, ctx, app, base, "login", "alice")
	if login2.err != nil {
		t.Fatalf("second login alice: %v", login2.err)
	}
	if !(login1.cred.SignCount > c0.SignCount && login2.cred.SignCount > login1.cred.SignCount) {
		t.Errorf("sign counts %d, %d, %d do not increase", c0.SignCount, login1.cred.SignCount, login2.cred.SignCount)
	}
	if got := app.snapshot("alice").Credentials; len(got) != 1 || got[0].SignCount != login2.cred.SignCount {
		t.Errorf("stored credentials %+v", got)
	}

	// 2. The same authenticator cannot be registered twice: the options
	// exclude it, the browser refuses and webauthn.js shows the error.
	run(t, ctx, "register alice again", chromedp.Navigate(base+"/register?user=alice"),
		chromedp.WaitVisible(chromedp.CSS(`#go`)), chromedp.Click(chromedp.CSS(`#go`)),
		chromedp.WaitVisible(chromedp.CSS(`#error`)))
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#error`))); err != nil || !strings.Contains(msg, "already registered") {
		t.Errorf("second registration: error %q (%v)", msg, err)
	}
	select {
	case f := <-app.done:
		t.Errorf("the refused registration was posted: %+v", f)
	default:
	}

	// 3. Replays of login 1's assertion.
	// Against its own, used state: the app deleted it, so nothing matches.
	if code := replay(t, base, "login", "alice", login1.body); code != http.StatusBadRequest {
		t.Errorf("replay without pending state: HTTP %d", code)
	}
	wantErr(t, "replay against the used (deleted) state", app.next(t, "replay").err, passkey.ErrInvalidState)
	// With a fresh state from a second BeginLogin: another challenge.
	res, err := http.Get(base + "/login/options?user=alice")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code := replay(t, base, "login", "alice", login1.body); code != http.StatusBadRequest {
		t.Errorf("replay with a fresh state: HTTP %d", code)
	}
	wantErr(t, "replay with a fresh state", app.next(t, "replay").err, passkey.ErrChallenge)
	// Even had the app kept the used state, the counter has moved on.
	alice := app.snapshot("alice")
	_, err = svc.FinishLogin(alice, login1.state, login1.body)
	wantErr(t, "replay against a kept copy of its state", err, passkey.ErrCloned)

	// 4. A challenge issued to another session: bob's login state cannot
	// finish alice's assertion, neither for alice nor for bob.
	if f := ceremony(t, ctx, app, base, "register", "bob"); f.err != nil {
		t.Fatalf("register bob: %v", f.err)
	}
	bob := app.snapshot("bob")
	_, bobState, err := svc.BeginLogin(bob)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.FinishLogin(alice, bobState, login2.body)
	wantErr(t, "alice's assertion with bob's state", err, passkey.ErrUserMismatch)
	_, err = svc.FinishLogin(bob, bobState, login2.body)
	wantErr(t, "alice's assertion as bob", err, passkey.ErrUnknownCredential)
	// A credential the user does not (or no longer) have.
	aliceWithout := alice
	aliceWithout.Credentials = bob.Credentials
	_, err = svc.FinishLogin(aliceWithout, login2.state, login2.body)
	wantErr(t, "a credential not among the user's", err, passkey.ErrUnknownCredential)

	// 5. Wrong origin: a Service that expects another origin than the page's
	// refuses both ceremonies.
	wrong := mustService(t, "http://localhost:1", clk.Now)
	app.set(func() { app.finish = wrong })
	f := ceremony(t, ctx, app, base, "register", "carol")
	wantErr(t, "registration from the wrong origin", f.err, passkey.ErrOrigin)
	f = ceremony(t, ctx, app, base, "login", "alice")
	wantErr(t, "login from the wrong origin", f.err, passkey.ErrOrigin)
	_, err = wrong.FinishRegistration(app.snapshot("alice"), reg.state, reg.body)
	wantErr(t, "alice's registration on the wrong-origin service", err, passkey.ErrOrigin)
	app.set(func() { app.finish = svc })

	// 6. Expired state: the clock passes the TTL between Begin and Finish.
	app.set(func() { app.afterBegin = func() { clk.Advance(5 * time.Minute) } })
	f = ceremony(t, ctx, app, base, "login", "alice")
	wantErr(t, "login with an expired state", f.err, passkey.ErrExpired)
	f = ceremony(t, ctx, app, base, "register", "dave")
	wantErr(t, "registration with an expired state", f.err, passkey.ErrExpired)
	app.set(func() { app.afterBegin = nil })

	// And alice can still log in normally afterwards, here with a form that
	// starts the ceremony on page load (data-webauthn-auto), no click.
	run(t, ctx, "login with data-webauthn-auto", chromedp.Navigate(base+"/login?user=alice&auto"))
	if f := app.next(t, "auto login"); f.err != nil || f.user != "alice" || f.kind != "login" {
		t.Errorf("auto login: %s %s: %v", f.kind, f.user, f.err)
	}
	run(t, ctx, "auto login: result page", chromedp.WaitVisible(chromedp.CSS(`#done`)))
}
