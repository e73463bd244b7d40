// Package storetest is the conformance suite every store.Store backend must
// pass. Backends call Run from their own tests with a function that opens a
// fresh, migrated, empty store.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Run runs the whole suite.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Users", testUsers},
		{"RoleBindings", testRoleBindings},
		{"Tokens", testTokens},
		{"AuditAppendAndList", testAudit},
		{"AuditConcurrentAppend", testAuditConcurrent},
		{"Settings", testSettings},
		{"MigrateTwice", testMigrateTwice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func ctx() context.Context { return context.Background() }

func mustUser(t *testing.T, s store.Store, email, role string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Role: role}
	if err := s.CreateUser(ctx(), u); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func testUsers(t *testing.T, s store.Store) {
	u := mustUser(t, s, "  Alice@Example.COM ", "admin")
	if u.ID == 0 || u.Email != "alice@example.com" || u.CreatedAt.IsZero() {
		t.Fatalf("created user %+v", u)
	}
	if err := s.CreateUser(ctx(), &store.User{Email: "ALICE@example.com"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email: %v, want ErrConflict", err)
	}
	got, err := s.GetUserByEmail(ctx(), "ALICE@EXAMPLE.COM")
	if err != nil || got.ID != u.ID || got.Role != "admin" || !got.LastLoginAt.IsZero() {
		t.Fatalf("get by email: %+v %v", got, err)
	}
	if _, err := s.GetUser(ctx(), 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}
	if _, err := s.GetUserByEmail(ctx(), "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing email: %v", err)
	}
	login := time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.FixedZone("x", 3600))
	got.Role, got.Disabled, got.Name, got.LastLoginAt = "viewer", true, "Alice A.", login
	if err := s.UpdateUser(ctx(), got); err != nil {
		t.Fatal(err)
	}
	again, err := s.GetUser(ctx(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Role != "viewer" || !again.Disabled || again.Name != "Alice A." ||
		!again.LastLoginAt.Equal(login.Truncate(time.Microsecond)) || again.LastLoginAt.Location() != time.UTC {
		t.Fatalf("after update: %+v", again)
	}
	if err := s.UpdateUser(ctx(), &store.User{ID: 424242, Role: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	mustUser(t, s, "bob@example.com", "ops")
	all, err := s.ListUsers(ctx())
	if err != nil || len(all) != 2 || all[0].Email != "alice@example.com" || all[1].Email != "bob@example.com" {
		t.Fatalf("list: %+v %v", all, err)
	}
}

func testRoleBindings(t *testing.T, s store.Store) {
	u := mustUser(t, s, "carol@example.com", "viewer")
	for _, b := range []store.RoleBinding{{UserID: u.ID, Rack: "staging", Role: "deployer"}, {UserID: u.ID, Rack: "prod", Role: "ops"}, {UserID: u.ID, Rack: "staging", Role: "admin"}} {
		if err := s.SetRoleBinding(ctx(), b); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := s.ListRoleBindings(ctx(), u.ID)
	if err != nil || len(bs) != 2 || bs[0].Rack != "prod" || bs[1].Role != "admin" {
		t.Fatalf("bindings: %+v %v", bs, err)
	}
	if err := s.SetRoleBinding(ctx(), store.RoleBinding{UserID: u.ID, Rack: "prod"}); err != nil {
		t.Fatal(err)
	}
	if bs, _ := s.ListRoleBindings(ctx(), u.ID); len(bs) != 1 {
		t.Fatalf("after delete: %+v", bs)
	}
	if err := s.SetRoleBinding(ctx(), store.RoleBinding{UserID: 987654, Rack: "prod", Role: "admin"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("binding for missing user: %v", err)
	}
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func testTokens(t *testing.T, s store.Store) {
	u := mustUser(t, s, "dave@example.com", "deployer")
	exp := time.Now().Add(time.Hour)
	tok := &store.APIToken{Name: "ci", Prefix: "rgw_abcdef", Hash: hash("one"), UserID: u.ID,
		Permissions: []string{"app:read", "build:create"}, ExpiresAt: exp}
	if err := s.CreateToken(ctx(), tok); err != nil || tok.ID == 0 {
		t.Fatalf("create: %v", err)
	}
	if err := s.CreateToken(ctx(), &store.APIToken{Name: "dup", Hash: hash("one"), UserID: u.ID}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate hash: %v", err)
	}
	got, err := s.GetTokenByHash(ctx(), hash("one"))
	if err != nil || got.ID != tok.ID || got.UserID != u.ID || len(got.Permissions) != 2 || got.Permissions[1] != "build:create" ||
		!got.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) || !got.RevokedAt.IsZero() || !got.LastUsedAt.IsZero() {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	if _, err := s.GetTokenByHash(ctx(), hash("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing hash: %v", err)
	}
	other := mustUser(t, s, "erin@example.com", "viewer")
	t2 := &store.APIToken{Name: "erin", Hash: hash("two"), UserID: other.ID}
	if err := s.CreateToken(ctx(), t2); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetToken(ctx(), t2.ID); g == nil || g.Permissions == nil && len(g.Permissions) != 0 || !g.ExpiresAt.IsZero() {
		t.Fatalf("token without scope: %+v", g)
	}
	mine, _ := s.ListTokens(ctx(), u.ID)
	all, _ := s.ListTokens(ctx(), 0)
	if len(mine) != 1 || len(all) != 2 || all[0].ID != tok.ID {
		t.Fatalf("list: mine %d all %d", len(mine), len(all))
	}
	used := time.Now().Add(-time.Minute)
	if err := s.TouchTokens(ctx(), map[int64]time.Time{tok.ID: used}); err != nil {
		t.Fatal(err)
	}
	// An older time never moves last-used backwards.
	if err := s.TouchTokens(ctx(), map[int64]time.Time{tok.ID: used.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetToken(ctx(), tok.ID); !g.LastUsedAt.Equal(used.Truncate(time.Microsecond)) {
		t.Fatalf("last used %v, want %v", g.LastUsedAt, used)
	}
	at := time.Now()
	if err := s.RevokeToken(ctx(), tok.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx(), tok.ID, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetToken(ctx(), tok.ID); !g.RevokedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("revoked at %v, want the first revocation %v", g.RevokedAt, at)
	}
	if err := s.RevokeToken(ctx(), 777777, at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke missing: %v", err)
	}
	if _, err := s.GetToken(ctx(), 777777); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
}

func testAudit(t *testing.T, s store.Store) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var evs []*store.AuditEvent
	for i := 0; i < 30; i++ {
		evs = append(evs, &store.AuditEvent{
			Time: base.Add(time.Duration(i) * time.Minute), RequestID: fmt.Sprint("req", i), Rack: "prod",
			ActorType: "user", Actor: []string{"a@example.com", "b@example.com"}[i%2], ActorID: int64(i%2 + 1),
			Method: "GET", Path: "/apps", Route: "AppList", Action: "AppList", App: []string{"web", "api", "web"}[i%3],
			Permission: "app:read", Decision: []string{"allow", "deny"}[i%2], Reason: "allowed", Status: 200,
			DurationUS: int64(i), Details: `{"k":"v"}`,
		})
	}
	if err := s.AppendAudit(ctx(), evs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx(), evs[10:]); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("ids not increasing: %d then %d", evs[i-1].ID, evs[i].ID)
		}
	}
	all, err := s.ListAudit(ctx(), store.AuditFilter{})
	if err != nil || len(all) != 30 || all[0].ID != evs[29].ID {
		t.Fatalf("list all: %d %v", len(all), err)
	}
	first := all[len(all)-1]
	if first.RequestID != "req0" || !first.Time.Equal(base) || first.Details != `{"k":"v"}` || first.Status != 200 || first.ActorID != 1 {
		t.Fatalf("round trip: %+v", first)
	}
	cases := []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"actor", store.AuditFilter{Actor: "a@example.com"}, 15},
		{"app", store.AuditFilter{App: "api"}, 10},
		{"decision", store.AuditFilter{Decision: "deny"}, 15},
		{"action", store.AuditFilter{Action: "AppList"}, 30},
		{"rack", store.AuditFilter{Rack: "staging"}, 0},
		{"since", store.AuditFilter{Since: base.Add(20 * time.Minute)}, 10},
		{"until", store.AuditFilter{Until: base.Add(20 * time.Minute)}, 20},
		{"window", store.AuditFilter{Since: base.Add(5 * time.Minute), Until: base.Add(7 * time.Minute)}, 2},
		{"limit", store.AuditFilter{Limit: 7}, 7},
		{"before", store.AuditFilter{BeforeID: evs[10].ID}, 10},
		{"combined", store.AuditFilter{Actor: "a@example.com", App: "web"}, 10},
	}
	for _, c := range cases {
		got, err := s.ListAudit(ctx(), c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: %d events (%v), want %d", c.name, len(got), err, c.want)
		}
	}
	// Paging visits every event exactly once.
	seen := map[int64]bool{}
	var before int64
	for {
		page, err := s.ListAudit(ctx(), store.AuditFilter{Limit: 8, BeforeID: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if seen[e.ID] {
				t.Fatalf("event %d twice", e.ID)
			}
			seen[e.ID] = true
		}
		before = page[len(page)-1].ID
	}
	if len(seen) != 30 {
		t.Fatalf("paging saw %d events", len(seen))
	}
}

func testAuditConcurrent(t *testing.T, s store.Store) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				batch := []*store.AuditEvent{
					{Actor: fmt.Sprint("w", w), Action: "a", Decision: "allow"},
					{Actor: fmt.Sprint("w", w), Action: "b", Decision: "allow"},
				}
				if err := s.AppendAudit(ctx(), batch); err != nil {
					errs <- err
					return
				}
				if batch[1].ID <= batch[0].ID {
					errs <- fmt.Errorf("batch ids %d, %d", batch[0].ID, batch[1].ID)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctx(), store.AuditFilter{Limit: 1000})
	if err != nil || len(got) != writers*each*2 {
		t.Fatalf("%d events (%v), want %d", len(got), err, writers*each*2)
	}
	ids := map[int64]bool{}
	for _, e := range got {
		if ids[e.ID] {
			t.Fatalf("duplicate id %d", e.ID)
		}
		ids[e.ID] = true
	}
}

func testSettings(t *testing.T, s store.Store) {
	if _, err := s.GetSetting(ctx(), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	for _, v := range []string{"one", "two"} {
		if err := s.SetSetting(ctx(), "k", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetSetting(ctx(), "k"); err != nil || got != v {
			t.Fatalf("get: %q %v", got, err)
		}
	}
}

func testMigrateTwice(t *testing.T, s store.Store) {
	mustUser(t, s, "frank@example.com", "ops")
	if err := s.Migrate(ctx()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if _, err := s.GetUserByEmail(ctx(), "frank@example.com"); err != nil {
		t.Fatalf("data lost by migrate: %v", err)
	}
	if err := s.Ping(ctx()); err != nil {
		t.Fatal(err)
	}
}
