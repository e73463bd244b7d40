package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var lifecycleTests = []subtest{
	{"Migrate/Twice", testMigrateTwice},
	{"Migrate/Concurrent", testMigrateConcurrent},
	{"Ping", testPing},
	{"CancelledContext", testCancelled},
	{"Close", testClose},
}

func testMigrateTwice(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "frank@example.com", "ops")
	must(t, "setting", s.SetSetting(ctx(t), "k", "v"))
	for range 2 {
		must(t, "migrate again", s.Migrate(ctx(t)))
	}
	got, err := s.GetUserByEmail(ctx(t), "frank@example.com")
	must(t, "data lost by migrate", err)
	if got.ID != u.ID {
		t.Fatalf("user changed: %+v", got)
	}
	if v, err := s.GetSetting(ctx(t), "k"); err != nil || v != "v" {
		t.Fatalf("setting after migrate: %q, %v", v, err)
	}
	// The store still works after re-migrating.
	mustUser(t, s, "after@example.com", "ops")
}

func testMigrateConcurrent(t *testing.T, s store.Store, clk *clock.Fake) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.Migrate(ctx(t)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent migrate", err)
	}
	mustUser(t, s, "x@example.com", "ops")
}

func testPing(t *testing.T, s store.Store, clk *clock.Fake) {
	must(t, "ping", s.Ping(ctx(t)))
}

func testCancelled(t *testing.T, s store.Store, clk *clock.Fake) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := s.ListUsers(c); err == nil {
		t.Error("ListUsers with a cancelled context succeeded")
	}
	if err := s.CreateUser(c, &store.User{Email: "c@example.com"}); err == nil {
		t.Error("CreateUser with a cancelled context succeeded")
	}
	if err := s.AppendAudit(c, []*chain.Event{{Action: "x"}}); err == nil {
		t.Error("AppendAudit with a cancelled context succeeded")
	}
	// The store is still usable with a live context.
	mustUser(t, s, "c@example.com", "ops")
}

func testClose(t *testing.T, s store.Store, clk *clock.Fake) {
	must(t, "close", s.Close())
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
