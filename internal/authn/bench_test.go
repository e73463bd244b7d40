package authn_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// BenchmarkAuthenticateTokenCached is the pipeline's authentication stage
// on a cache hit: what nearly every call of a CI token or CLI costs.
func BenchmarkAuthenticateTokenCached(b *testing.B) {
	ctx := context.Background()
	st, err := storeopen.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "gw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	u := &store.User{Email: "ci@example.com", Role: "deployer"}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	secret, hash := authn.NewToken()
	if err := st.CreateToken(ctx, &store.APIToken{Name: "ci", Prefix: authn.DisplayPrefix(secret), Hash: hash, UserID: u.ID}); err != nil {
		b.Fatal(err)
	}
	a := authn.New(st, time.Minute, nil)
	if res, err := a.AuthenticateToken(ctx, secret); err != nil || res.Principal == nil {
		b.Fatalf("warm-up: %+v %v", res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := a.AuthenticateToken(ctx, secret); err != nil || res.Principal == nil {
			b.Fatal(err)
		}
	}
}
