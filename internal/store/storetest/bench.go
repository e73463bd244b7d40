package storetest

import (
	"context"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// BenchGetTokenByHash measures the authentication hot path: looking a token
// up by hash among 1000 tokens.
func BenchGetTokenByHash(b *testing.B, s store.Store) {
	ctx := context.Background()
	u := &store.User{Email: "bench@example.com", Role: "admin"}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	var hashes [][]byte
	for i := range 1000 {
		tok := &store.APIToken{Name: "bench", Hash: hash(string(rune(i))), UserID: u.ID,
			Permissions: []string{"app:read", "build:create"}}
		if err := s.CreateToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, tok.Hash)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.GetTokenByHash(ctx, hashes[i%len(hashes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchAppendAudit measures appending batches of size typical events; it
// reports events/s.
func BenchAppendAudit(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	batch := make([]*chain.Event, size)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range batch {
			batch[i] = &chain.Event{ActorType: "user", Actor: "a@example.com", Rack: "prod",
				Method: "GET", Path: "/apps/web", Route: "AppGet", Action: "AppGet", App: "web",
				Permission: "app:read", Decision: "allow", Reason: "allowed", Status: 200, DurationUS: 812}
		}
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += size
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
