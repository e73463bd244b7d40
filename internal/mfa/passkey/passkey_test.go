package passkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
)

func TestConfigValidate(t *testing.T) {
	good := passkey.Config{RPID: "gateway.example.com", RPDisplayName: "Rack Gateway",
		Origins: []string{"https://gateway.example.com", "https://eu.gateway.example.com:8443"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	dev := passkey.Config{RPID: "localhost", RPDisplayName: "dev", Origins: []string{"http://localhost:8080"}}
	if err := dev.Validate(); err != nil {
		t.Fatalf("dev config: %v", err)
	}
	for name, mutate := range map[string]func(*passkey.Config){
		"empty RPID":           func(c *passkey.Config) { c.RPID = "" },
		"IP RPID":              func(c *passkey.Config) { c.RPID = "127.0.0.1" },
		"IPv6 RPID":            func(c *passkey.Config) { c.RPID = "[::1]" },
		"RPID with port":       func(c *passkey.Config) { c.RPID = "gateway.example.com:443" },
		"RPID with scheme":     func(c *passkey.Config) { c.RPID = "https://gateway.example.com" },
		"upper-case RPID":      func(c *passkey.Config) { c.RPID = "Gateway.example.com" },
		"no display name":      func(c *passkey.Config) { c.RPDisplayName = " " },
		"no origins":           func(c *passkey.Config) { c.Origins = nil },
		"origin with path":     func(c *passkey.Config) { c.Origins = []string{"https://gateway.example.com/login"} },
		"origin trailing /":    func(c *passkey.Config) { c.Origins = []string{"https://gateway.example.com/"} },
		"plain http origin":    func(c *passkey.Config) { c.Origins = []string{"http://gateway.example.com"} },
		"origin off the RPID":  func(c *passkey.Config) { c.Origins = []string{"https://example.com"} },
		"lookalike origin":     func(c *passkey.Config) { c.Origins = []string{"https://evilgateway.example.com"} },
		"origin without host":  func(c *passkey.Config) { c.Origins = []string{"gateway.example.com"} },
		"other scheme":         func(c *passkey.Config) { c.Origins = []string{"ftp://gateway.example.com"} },
		"origin with userinfo": func(c *passkey.Config) { c.Origins = []string{"https://a@gateway.example.com"} },
		"negative TTL":         func(c *passkey.Config) { c.TTL = -time.Second },
	} {
		c := good
		c.Origins = append([]string(nil), good.Origins...)
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := passkey.New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}

// newUnitService returns a Service on a fake clock, and the clock.
func newUnitService(t *testing.T) (*passkey.Service, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	svc, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "Rack Gateway",
		Origins: []string{"http://localhost:8080"}, TTL: 2 * time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, clk
}

func unitUser(name string) passkey.User {
	return passkey.User{ID: bytes.Repeat([]byte(name[:1]), 16), Name: name + "@example.com",
		Credentials: []passkey.Credential{{ID: []byte("cred-of-" + name), PublicKey: []byte{1, 2, 3}, Transports: []string{"usb"}}}}
}

func TestStateExpiryAndBinding(t *testing.T) {
	svc, clk := newUnitService(t)
	alice, bob := unitUser("alice"), unitUser("bob")
	_, loginState, err := svc.BeginLogin(alice)
	if err != nil {
		t.Fatal(err)
	}
	_, regState, err := svc.BeginRegistration(alice)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte(`{}`)

	// Within the TTL the state is accepted and the (garbage) response is
	// what fails.
	clk.Advance(2*time.Minute - time.Second)
	if _, err := svc.FinishLogin(alice, loginState, garbage); !errors.Is(err, passkey.ErrMalformed) {
		t.Errorf("fresh login state, garbage body: %v, want ErrMalformed", err)
	}
	if _, err := svc.FinishRegistration(alice, regState, garbage); !errors.Is(err, passkey.ErrMalformed) {
		t.Errorf("fresh registration state, garbage body: %v, want ErrMalformed", err)
	}
	// The wrong kind of state, no state, another user's state.
	if _, err := svc.FinishLogin(alice, regState, garbage); !errors.Is(err, passkey.ErrInvalidState) {
		t.Errorf("registration state for login: %v, want ErrInvalidState", err)
	}
	if _, err := svc.FinishRegistration(alice, loginState, garbage); !errors.Is(err, passkey.ErrInvalidState) {
		t.Errorf("login state for registration: %v, want ErrInvalidState", err)
	}
	for _, st := range [][]byte{nil, []byte("not json"), []byte(`{"v":2}`)} {
		if _, err := svc.FinishLogin(alice, st, garbage); !errors.Is(err, passkey.ErrInvalidState) {
			t.Errorf("state %q: %v, want ErrInvalidState", st, err)
		}
	}
	if _, err := svc.FinishLogin(bob, loginState, garbage); !errors.Is(err, passkey.ErrUserMismatch) {
		t.Errorf("alice's state for bob: %v, want ErrUserMismatch", err)
	}

	// At the TTL it has expired, before anything else is looked at.
	clk.Advance(time.Second)
	if _, err := svc.FinishLogin(alice, loginState, garbage); !errors.Is(err, passkey.ErrExpired) {
		t.Errorf("expired login state: %v, want ErrExpired", err)
	}
	if _, err := svc.FinishRegistration(alice, regState, garbage); !errors.Is(err, passkey.ErrExpired) {
		t.Errorf("expired registration state: %v, want ErrExpired", err)
	}
}

func TestOptions(t *testing.T) {
	svc, _ := newUnitService(t)
	alice := unitUser("alice")
	opts, _, err := svc.BeginRegistration(alice)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct{ ID, Name string }
			User      struct {
				ID, Name, DisplayName string
			}
			ExcludeCredentials []struct{ ID, Type string }
			Selection          map[string]any `json:"authenticatorSelection"`
			Attestation        string
			Timeout            int
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &reg); err != nil {
		t.Fatalf("%v in %s", err, opts)
	}
	pk := reg.PublicKey
	b64 := base64.RawURLEncoding
	if c, err := b64.DecodeString(pk.Challenge); err != nil || len(c) < 16 {
		t.Errorf("challenge %q", pk.Challenge)
	}
	if id, err := b64.DecodeString(pk.User.ID); err != nil || !bytes.Equal(id, alice.ID) {
		t.Errorf("user.id %q, want base64url of the user handle", pk.User.ID)
	}
	if pk.RP.ID != "localhost" || pk.User.Name != alice.Name || pk.User.DisplayName != alice.Name {
		t.Errorf("rp/user: %s", opts)
	}
	if len(pk.ExcludeCredentials) != 1 || pk.ExcludeCredentials[0].ID != b64.EncodeToString(alice.Credentials[0].ID) {
		t.Errorf("excludeCredentials %+v, want alice's credential", pk.ExcludeCredentials)
	}
	sel := pk.Selection
	if sel["residentKey"] != "preferred" || sel["userVerification"] != "preferred" || sel["authenticatorAttachment"] != nil {
		t.Errorf("authenticatorSelection %v", sel)
	}
	if pk.Attestation != "none" || pk.Timeout != int((2*time.Minute).Milliseconds()) {
		t.Errorf("attestation %q timeout %d", pk.Attestation, pk.Timeout)
	}

	opts, _, err = svc.BeginLogin(alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opts), `"allowCredentials":[{"type":"public-key","id":"`+b64.EncodeToString(alice.Credentials[0].ID)+`"`) ||
		!strings.Contains(string(opts), `"userVerification":"preferred"`) {
		t.Errorf("login options: %s", opts)
	}

	// No credentials, no login; a bad user handle, no ceremony.
	if _, _, err := svc.BeginLogin(passkey.User{ID: alice.ID, Name: alice.Name}); err == nil {
		t.Error("BeginLogin without credentials succeeded")
	}
	for _, id := range [][]byte{nil, make([]byte, 65)} {
		if _, _, err := svc.BeginRegistration(passkey.User{ID: id, Name: "x"}); err == nil {
			t.Errorf("BeginRegistration with a %d-byte user handle succeeded", len(id))
		}
	}
}

func TestCredentialMarshal(t *testing.T) {
	c := passkey.Credential{ID: []byte{0xfb, 0xff, 0x01}, PublicKey: []byte{9, 8, 7}, SignCount: 42,
		AAGUID: make([]byte, 16), Transports: []string{"internal", "hybrid"}, Attachment: "platform",
		AttestationFormat: "none", UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := passkey.UnmarshalCredential(b)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got), mustJSON(t, c); g != w {
		t.Errorf("round trip: %s, want %s", g, w)
	}
	if c.IDString() != "-_8B" {
		t.Errorf("IDString %q", c.IDString())
	}
	if _, err := passkey.UnmarshalCredential([]byte(`{"id":"AQ=="}`)); err == nil {
		t.Error("a credential without a public key was accepted")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
