package audit_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// Request data that is not UTF-8 (a percent-encoded path, a User-Agent
// header, a value cut in the middle of a character) or holds NUL is
// recorded with U+FFFD in place of the bad bytes. PostgreSQL refuses such
// text, and before, one such event stopped the batch writer for good (it
// retries a batch until the store takes it) and refused write-ahead calls;
// on SQLite it was stored, but its JSONL export no longer matched its hash.
func TestRecordInvalidUTF8(t *testing.T) {
	backends := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store { return openStore(t) },
		"postgres": func(t *testing.T) store.Store {
			st, err := storeopen.Open(context.Background(), pgtest.FreshSchema(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			a := audit.New(st, quiet, nil)
			go a.Run()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			defer func() { _ = a.Close(ctx) }()

			a.Record(&chain.Event{RequestID: "batched", Path: "/apps/\xff\xfe/env", UserAgent: "caf\xc3",
				Actor: "anonymous", Decision: "deny", Details: `{"k":"v"}`})
			if err := a.RecordSync(ctx, &chain.Event{RequestID: "write-ahead", Path: "/apps/a\x00b",
				Resource: "ok-ü", Decision: "allow"}); err != nil {
				t.Fatalf("RecordSync: %v", err)
			}
			if err := a.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v (the batch writer is stuck)", err)
			}
			got := map[string]chain.Event{}
			for _, e := range listAll(t, st) {
				got[e.RequestID] = e
			}
			if e := got["batched"]; e.Path != "/apps/\uFFFD/env" || e.UserAgent != "caf\uFFFD" || e.Details != `{"k":"v"}` {
				t.Errorf("batched event stored as path %q user agent %q details %q", e.Path, e.UserAgent, e.Details)
			}
			if e := got["write-ahead"]; e.Path != "/apps/a\uFFFDb" || e.Resource != "ok-ü" {
				t.Errorf("write-ahead event stored as path %q resource %q", e.Path, e.Resource)
			}

			// The JSONL export verifies.
			path := filepath.Join(t.TempDir(), "export.jsonl")
			var buf bytes.Buffer
			if err := export.Write(ctx, st, &buf, export.Options{Format: "jsonl"}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			in, closer, err := verify.OpenExport(path, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			rep, err := verify.Run(ctx, in)
			if err != nil || !rep.OK() || rep.Events != 2 {
				t.Fatalf("export verification: %v, %s", err, rep.Verdict())
			}
		})
	}
}
