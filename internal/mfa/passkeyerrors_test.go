package mfa_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// assertion is a well-formed WebAuthn assertion answer for credential id
// and the given challenge, with a signature that proves nothing.
func assertion(id []byte, challenge string) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": challenge, "origin": "http://localhost:8080"})
	authData := make([]byte, 37)
	authData[32] = 0x05 // user present and verified
	body, _ := json.Marshal(map[string]any{
		"id": b64(id), "rawId": b64(id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(authData), "signature": b64([]byte("not a signature"))},
	})
	return body
}

// A refused passkey says why, in words a person can act on, and the audit
// record names the same reason; each refusal still counts as a failed
// attempt, as a wrong code does.
func TestPasskeyRefusalsSayWhy(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	pk, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "Rack Gateway",
		Origins: []string{"http://localhost:8080"}, TTL: 2 * time.Minute, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc := mfa.New(e.st, mfa.Config{Keys: e.keys, Passkeys: pk, LockAfter: 50, Clock: e.clk}, e.rec, e.policy, nil, nil)
	a := e.person("a@example.com")
	e.enrolTOTP(a) // a first factor, so a passkey can be registered and used
	cred, _ := passkey.Credential{ID: []byte("registered-credential"), PublicKey: []byte{1, 2, 3}}.Marshal()
	if err := e.st.CreateMFAMethod(ctx, &store.MFAMethod{UserID: a.Principal.UserID, Kind: store.MFAWebAuthn, Name: "key",
		CredentialID: []byte("registered-credential"), Credential: cred}); err != nil {
		t.Fatal(err)
	}
	a = e.refresh(a)

	login := func(body func(challenge string) []byte) error {
		t.Helper()
		opts, err := svc.BeginPasskeyLogin(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		var o struct{ PublicKey struct{ Challenge string } }
		if err := json.Unmarshal(opts, &o); err != nil || o.PublicKey.Challenge == "" {
			t.Fatalf("options %s: %v", opts, err)
		}
		_, err = svc.FinishPasskeyLogin(ctx, a, body(o.PublicKey.Challenge))
		return err
	}
	for _, c := range []struct {
		name, code, says string
		body             func(challenge string) []byte
	}{
		{"not JSON", "malformed", "could not be read", func(string) []byte { return []byte("{") }},
		{"another credential", "unknown_credential", "not registered to your account",
			func(ch string) []byte { return assertion([]byte("someone-elses"), ch) }},
		{"an earlier challenge", "challenge", "earlier request",
			func(string) []byte { return assertion([]byte("registered-credential"), "c3RhbGUtY2hhbGxlbmdl") }},
		{"a bad signature", "invalid", "did not verify",
			func(ch string) []byte { return assertion([]byte("registered-credential"), ch) }},
	} {
		before, _ := e.st.GetMFAAccount(ctx, a.Principal.UserID, []byte("x"))
		err := login(c.body)
		var r *mfa.PasskeyRefused
		if !errors.As(err, &r) || !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("%s: %v, want a PasskeyRefused that is ErrInvalidCode", c.name, err)
			continue
		}
		if r.Code != c.code || !strings.Contains(r.Error(), c.says) {
			t.Errorf("%s: code %q, %q; want %q saying %q", c.name, r.Code, r.Error(), c.code, c.says)
		}
		last := e.rec.evs[len(e.rec.evs)-1]
		if last.Decision != "deny" || !strings.Contains(string(last.Details), `"error":"`+c.code+`"`) {
			t.Errorf("%s: audited %s %s %s", c.name, last.Action, last.Decision, last.Details)
		}
		after, _ := e.st.GetMFAAccount(ctx, a.Principal.UserID, []byte("x"))
		if after.Failures != before.Failures+1 {
			t.Errorf("%s: failures %d → %d, want one more", c.name, before.Failures, after.Failures)
		}
	}
}
