package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

func open(t testing.TB) *sqlite.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func BenchmarkGetTokenByHash(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	u := &store.User{Email: "b@example.com", Role: "admin"}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	h := make([]byte, 32)
	h[0] = 7
	if err := s.CreateToken(ctx, &store.APIToken{Name: "b", Hash: h, UserID: u.ID, Permissions: []string{"app:read"}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetTokenByHash(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendAudit64(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	batch := make([]*store.AuditEvent, 64)
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = &store.AuditEvent{Actor: "a@example.com", Action: "AppList", Decision: "allow", Path: "/apps", Status: 200}
		}
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
