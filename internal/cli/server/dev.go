package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/devidp"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// DemoUsers returns the users dev mode creates, one per built-in role.
func DemoUsers() []struct{ Email, Role string } {
	return []struct{ Email, Role string }{
		{"admin@example.com", authz.RoleAdmin},
		{"deployer@example.com", authz.RoleDeployer},
		{"ops@example.com", authz.RoleOps},
		{"viewer@example.com", authz.RoleViewer},
	}
}

const devTokensFile = "dev-tokens.json"

// devClientID is the OAuth client the dev gateway registers with its
// built-in identity provider.
const devClientID = "rack-gateway-dev"

// Dev is `rack-gateway dev`.
func Dev(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "dev", "dev [--data DIR] [--addr 127.0.0.1:8447] [--no-mfa]")
	data := fs.String("data", "./.rack-gateway", "data `dir` (SQLite database, dev tokens); reused across starts")
	addr := fs.String("addr", "127.0.0.1:8447", "gateway listen `address`")
	noMFA := fs.Bool("no-mfa", false, "do not require a second factor of people (to try things out quickly; never in production)")
	if _, err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	st, err := storeopen.Open(ctx, devDSN(*data))
	if err != nil {
		return err
	}
	defer st.Close()

	// The simulated rack's password is kept so restarts look like one rack.
	rackPassword, err := st.GetSetting(ctx, "dev.rack_password")
	if errors.Is(err, store.ErrNotFound) {
		rackPassword = randomHex(24)
		err = st.SetSetting(ctx, "dev.rack_password", rackPassword)
	}
	if err != nil {
		return err
	}
	// So is the key that seals TOTP secrets (dev only: in production it
	// comes from the configuration, never from the database it protects).
	mfaKey, err := st.GetSetting(ctx, "dev.mfa_key")
	if errors.Is(err, store.ErrNotFound) {
		mfaKey = config.NewMFAKey(time.Now())
		err = st.SetSetting(ctx, "dev.mfa_key", mfaKey)
	}
	if err != nil {
		return err
	}
	rackLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = serveUntil(ctx, rackLn, simrack.New(simrack.Config{Password: rackPassword}).Handler()) }()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%w (is another rack-gateway dev running? use --addr)", err)
	}
	publicURL := "http://" + ln.Addr().String()

	// A real OpenID Connect provider on loopback with the demo users, so the
	// gateway's real login code runs in dev (pick a user on its page).
	clientSecret := randomHex(24)
	idp, err := devidp.New(devidp.Config{Users: devidp.DemoUsers(), Clients: map[string]devidp.Client{
		devClientID: {Secret: clientSecret, RedirectURIs: []string{publicURL + "/auth/callback"}}}})
	if err != nil {
		return err
	}
	issuer, err := idp.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer idp.Close()

	cfg := &config.Config{
		Addr:        ln.Addr().String(),
		DatabaseURL: devDSN(*data),
		Audit:       config.DevAudit(*data),
		Racks:       []config.Rack{{Name: "dev", URL: "http://" + rackLn.Addr().String(), Password: rackPassword}},
		LogLevel:    "info",
		PublicURL:   publicURL,
		OIDC: config.OIDC{Issuer: issuer, ClientID: devClientID, ClientSecret: clientSecret,
			ProviderName: "the dev identity provider (demo users)"},
		// Passkeys need a domain name: they work when the console is
		// opened as http://localhost:PORT.
		MFA: config.MFA{EncryptionKeys: mfaKey, WebAuthnRPID: "localhost",
			WebAuthnOrigins: []string{"http://localhost:" + portOf(ln.Addr().String())}},
	}
	if *noMFA {
		off := false
		cfg.MFA.Required = &off
	}
	cfg.SetDefaults(*addr)
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(e.Stderr, cfg.LogLevel)
	g, err := gateway.New(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	tokens, err := ensureDemo(ctx, g, filepath.Join(*data, devTokensFile))
	if err != nil {
		return err
	}
	printQuickStart(e, ln.Addr().String(), *data, tokens)
	return g.Serve(ctx, ln)
}

// ensureDemo creates the demo users and returns a working token for each,
// reusing the tokens saved in the data dir when they still authenticate.
// The file is mode 0600 and exists only in dev mode.
func ensureDemo(ctx context.Context, g *gateway.Gateway, file string) (map[string]string, error) {
	g.Start()
	svc := g.Admin
	a := admin.Actor{System: "dev"}
	saved := map[string]string{}
	if b, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(b, &saved)
	}
	out := map[string]string{}
	for _, u := range DemoUsers() {
		if _, err := g.Store.GetUserByEmail(ctx, u.Email); errors.Is(err, store.ErrNotFound) {
			if _, err := svc.CreateUser(ctx, a, u.Email, "", u.Role); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		if tok := saved[u.Email]; tok != "" {
			if res, err := g.Authn.AuthenticateToken(ctx, tok); err == nil && res.Principal != nil {
				out[u.Email] = tok
				continue
			}
		}
		t, err := svc.CreateToken(ctx, a, admin.TokenRequest{Name: "dev-" + u.Role, Owner: u.Email})
		if err != nil {
			return nil, err
		}
		out[u.Email] = t.Token
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return out, nil
}

func printQuickStart(e *cmdutil.Env, addr, data string, tokens map[string]string) {
	w := e.Stdout
	fmt.Fprintf(w, "\nrack-gateway dev is running on http://%s (data in %s)\n", addr, data)
	fmt.Fprintf(w, "A simulated rack named \"dev\" is behind it. Demo users and their API tokens:\n\n")
	for _, u := range DemoUsers() {
		fmt.Fprintf(w, "  %-9s %s\n    RACK_URL=http://convox:%s@%s/rack convox apps\n", u.Role, u.Email, tokens[u.Email], addr)
	}
	fmt.Fprintf(w, "\nWeb console: http://%s/  (sign in through the built-in dev identity provider as any demo user)\n", addr)
	fmt.Fprintf(w, "CLI login:   rack-gateway login http://%s --name dev\n", addr)
	fmt.Fprintf(w, "Admin API:   curl -H 'Authorization: Bearer %s' http://%s/api/v1/users\n", tokens["admin@example.com"], addr)
	fmt.Fprintf(w, "Audit log:   rack-gateway audit tail --data %s   (verify: rack-gateway audit verify --data %s)\n", data, data)
	fmt.Fprintf(w, "Press Ctrl-C to stop.\n\n")
}

// portOf returns the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
