package verify_test

// The generator of the frozen end-to-end vector checked by kat_test.go. It
// never runs by default: it is skipped unless the test binary gets
// -regenerate-frozen-vectors, and it refuses to overwrite an existing file
// unless -regenerate-frozen-vectors-overwrite is given too. Overwriting the
// vector to make a failing test pass hides a change that breaks every
// deployed log; don't.
//
// It makes the vector the way a gateway does: events appended to a SQLite
// store, checkpoints signed with the checkpoint package's public test key
// and anchored, then `audit export` (export.Write) in full and from seq 5.
//
//	go test ./internal/audit/verify -run TestRegenerateFrozenVectors -regenerate-frozen-vectors

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

func writeFrozen(t *testing.T, name string, data []byte) {
	testutil.WriteFrozen(t, frozenPath(name), data)
}

func TestRegenerateFrozenVectors(t *testing.T) {
	if !testutil.RegenerateFrozen() {
		t.Skip("generator of the frozen vector; runs only with -regenerate-frozen-vectors (see kat_gen_test.go)")
	}
	ctx := context.Background()
	seed := make([]byte, ed25519.SeedSize) // the checkpoint package's public test key: 00 01 … 1f
	for i := range seed {
		seed[i] = byte(i)
	}
	key := ed25519.NewKeyFromSeed(seed)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	at := func(sec float64) time.Time { return base.Add(time.Duration(sec * float64(time.Second))) }
	var now time.Time
	signer := &checkpoint.Signer{Key: key, Origin: "gw.example.com", Now: func() time.Time { return now }}

	evs := []*chain.Event{
		{Time: at(0.000101), RequestID: "5f1e0c7a9b2d4e6f80a1b2c3", ActorType: "anonymous", Actor: "alice@example.com",
			SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0", Method: "GET", Path: "/login/callback",
			Action: "login", Decision: "allow", Reason: "allowed", Status: 302, DurationUS: 88123,
			Details: `{"kind":"web","provider":"Google"}`},
		{Time: at(1.5), RequestID: "0a1b2c3d4e5f60718293a4b5", Rack: "production", ActorType: "user",
			Actor: "alice@example.com", ActorID: 1, Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4",
			Method: "GET", Path: "/apps", Route: "AppList", Action: "AppList", Permission: "app:read",
			Decision: "allow", Reason: "allowed", Status: 200, DurationUS: 20411},
		{Time: at(2.25), RequestID: "1b2c3d4e5f60718293a4b5c6", Rack: "production", ActorType: "token",
			Actor: "token:ci-deploy", ActorID: 1, TokenID: 3, Role: "viewer", SourceIP: "198.51.100.20",
			UserAgent: "curl/8.5.0", Method: "DELETE", Path: "/apps/web", Route: "AppDelete", Action: "AppDelete",
			App: "web", Resource: "web", Permission: "app:delete", Decision: "deny", Reason: "missing_permission",
			Status: 403, DurationUS: 310},
		{Time: at(3), RequestID: "2c3d4e5f60718293a4b5c6d7", Rack: "production", ActorType: "user",
			Actor: "alice@example.com", ActorID: 1, Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4",
			Method: "POST", Path: "/apps/web/releases", Route: "EnvSet", Action: "EnvSet", App: "web",
			Permission: "env:set", Decision: "allow", Reason: "allowed", Status: 0,
			Details: `{"changes":[{"key":"DATABASE_URL","op":"changed","value":"hmac-sha256:3f0c9a1e"},{"key":"OLD","op":"removed"}],"phase":"attempt"}`},
		{Time: at(3.4), RequestID: "2c3d4e5f60718293a4b5c6d7", Rack: "production", ActorType: "user",
			Actor: "alice@example.com", ActorID: 1, Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4",
			Method: "POST", Path: "/apps/web/releases", Route: "EnvSet", Action: "EnvSet", App: "web",
			Resource: "RABCDEF0001", Permission: "env:set", Decision: "allow", Reason: "allowed", Status: 200,
			DurationUS: 401234, Details: `{"phase":"outcome","release":"RABCDEF0001"}`},
		{Time: at(10), RequestID: "3d4e5f60718293a4b5c6d7e8", Rack: "staging-東京", ActorType: "user",
			Actor: "josé@example.com", ActorID: 2, Role: "ops", SourceIP: "2001:db8::7", UserAgent: "convox/3.19.4",
			Method: "GET", Path: "/apps/café/processes", Route: "ProcessList", Action: "ProcessList", App: "café",
			Permission: "process:read", Decision: "allow", Reason: "allowed", Status: 200, DurationUS: 15001},
		{Time: at(11), RequestID: "4e5f60718293a4b5c6d7e8f9", Rack: "production", ActorType: "user",
			Actor: "alice@example.com", ActorID: 1, Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4",
			Method: "GET", Path: "/apps/web/processes/web-7d9f/exec", Route: "ProcessExec", Action: "ProcessExec",
			App: "web", Resource: "web-7d9f", Permission: "process:exec", Decision: "allow", Reason: "allowed",
			Status: 101, DurationUS: 65000123,
			Details: `{"phase":"outcome","session":{"bytes_in":120,"bytes_out":48211,"command":"bash","duration_ms":65000,"exit_code":0}}`},
		{Time: at(12), ActorType: "system", Actor: "rack-gateway", Action: "audit.verify", Decision: "allow",
			Reason: "allowed", Details: `{"result":"OK"}`},
		{Time: at(20), RequestID: "5f60718293a4b5c6d7e8f90a", ActorType: "user", Actor: "admin@example.com", ActorID: 3,
			Role: "admin", SourceIP: "203.0.113.10", UserAgent: "Mozilla/5.0", Method: "POST", Path: "/api/v1/users",
			Action: "user.create", Resource: "bob@example.com", Permission: "users:write", Decision: "allow",
			Reason: "allowed", Status: 201, DurationUS: 5012, Details: `{"role":"viewer"}`},
		{Time: at(21), RequestID: "60718293a4b5c6d7e8f90a1b", Rack: "production", ActorType: "anonymous",
			Actor: "anonymous", SourceIP: "192.0.2.66", UserAgent: "", Method: "GET", Path: "/apps", Route: "AppList",
			Action: "AppList", Permission: "app:read", Decision: "deny", Reason: "no_credentials", Status: 401, DurationUS: 90},
		{Time: at(22), RequestID: "718293a4b5c6d7e8f90a1b2c", Rack: "production", ActorType: "token",
			Actor: "token:ci-deploy", ActorID: 1, TokenID: 3, Role: "viewer", SourceIP: "198.51.100.20",
			UserAgent: "curl/8.5.0", Method: "GET", Path: "/apps/web/logs", Route: "AppLogs", Action: "AppLogs",
			App: "web", Permission: "log:read", Decision: "allow", Reason: "allowed", Status: 200, DurationUS: 3600000000,
			Details: `{"follow":"true","since":"1h"}`},
		{Time: at(30), RequestID: "8293a4b5c6d7e8f90a1b2c3d", Rack: "production", ActorType: "user",
			Actor: "alice@example.com", ActorID: 1, Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4",
			Method: "GET", Path: "/racks", Route: "RackList", Action: "RackList", Permission: "rack:read",
			Decision: "allow", Reason: "allowed", Status: 200, DurationUS: 800},
	}
	appendRange := func(from, to int) { // events[from..to] (seq from+1 .. to+1)
		t.Helper()
		if err := st.AppendAudit(ctx, evs[from:to+1]); err != nil {
			t.Fatal(err)
		}
	}
	anchors := map[string][]byte{}
	makeCP := func(when time.Time, anchoredAt time.Time) {
		t.Helper()
		now = when
		c, err := st.AddCheckpoint(ctx, signer.Make)
		if err != nil || c == nil {
			t.Fatalf("checkpoint: %v, %v", c, err)
		}
		if anchoredAt.IsZero() {
			return
		}
		anchors[checkpoint.AnchorKey(c.Seq)] = checkpoint.EncodeAnchor(c, signer.KeyID())
		if err := st.MarkAnchored(ctx, c.Seq, anchoredAt); err != nil {
			t.Fatal(err)
		}
	}
	appendRange(0, 0)
	appendRange(1, 3)
	makeCP(at(3.5), at(4.25)) // seq 4, anchored
	appendRange(4, 6)
	appendRange(7, 7)
	makeCP(at(12.5), at(13)) // seq 8, anchored
	appendRange(8, 10)
	makeCP(at(22.5), time.Time{}) // seq 11, not yet anchored
	appendRange(11, 11)

	var full, since bytes.Buffer
	if err := export.Write(ctx, st, &full, export.Options{Format: "jsonl"}); err != nil {
		t.Fatal(err)
	}
	if err := export.Write(ctx, st, &since, export.Options{Format: "jsonl", Since: evs[4].Time}); err != nil {
		t.Fatal(err)
	}
	writeFrozen(t, "export.jsonl", full.Bytes())
	writeFrozen(t, "export_from_seq5.jsonl", since.Bytes())
	for k, data := range anchors {
		writeFrozen(t, filepath.Join("anchors", filepath.FromSlash(k)), data)
	}
	writeFrozen(t, "audit_public_key.pem", checkpoint.MarshalPublicKey(key.Public().(ed25519.PublicKey)))
}
