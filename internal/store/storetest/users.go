package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

var userTests = []subtest{
	{"Users/Create", testUserCreate},
	{"Users/EmailConflict", testUserConflict},
	{"Users/NotFound", testUserNotFound},
	{"Users/Update", testUserUpdate},
	{"Users/LastLoginRoundTrip", testUserLastLogin},
	{"Users/List", testUserList},
}

func testUserCreate(t *testing.T, s store.Store, clk *clock.Fake) {
	tests := []struct {
		email, want string
		user        store.User
	}{
		{"alice@example.com", "alice@example.com", store.User{Name: "Alice", Role: "admin"}},
		{"  Bob@Example.COM ", "bob@example.com", store.User{Role: "viewer", Disabled: true}},
		{"CAROL@EXAMPLE.COM", "carol@example.com", store.User{Name: "Ça rol", Role: "ops",
			LastLoginAt: time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.FixedZone("E", 5*3600))}},
	}
	var lastID int64
	for _, tt := range tests {
		clk.Advance(time.Second)
		u := tt.user
		u.Email = tt.email
		must(t, "create "+tt.email, s.CreateUser(ctx(t), &u))
		if u.ID <= lastID {
			t.Errorf("%s: ID %d, want > %d", tt.email, u.ID, lastID)
		}
		lastID = u.ID
		if u.Email != tt.want {
			t.Errorf("created Email = %q, want %q", u.Email, tt.want)
		}
		checkNow(t, "CreatedAt", u.CreatedAt, clk)
		checkTime(t, "UpdatedAt", u.UpdatedAt, u.CreatedAt)
		checkTime(t, "LastLoginAt", u.LastLoginAt, tt.user.LastLoginAt)

		got, err := s.GetUser(ctx(t), u.ID)
		must(t, "get "+tt.email, err)
		checkSame(t, "GetUser", u, *got)
		checkTime(t, "stored LastLoginAt", got.LastLoginAt, tt.user.LastLoginAt)
		for _, lookup := range []string{tt.email, tt.want} {
			got, err := s.GetUserByEmail(ctx(t), lookup)
			must(t, "get by email "+lookup, err)
			checkSame(t, "GetUserByEmail("+lookup+")", u, *got)
		}
	}
	if err := s.CreateUser(ctx(t), &store.User{Email: "  "}); err == nil {
		t.Error("CreateUser with a blank email succeeded")
	}
}

func testUserConflict(t *testing.T, s store.Store, clk *clock.Fake) {
	mustUser(t, s, "dup@example.com", "viewer")
	for _, email := range []string{"dup@example.com", "DUP@example.com", " Dup@Example.Com "} {
		err := s.CreateUser(ctx(t), &store.User{Email: email, Role: "admin"})
		wantErr(t, "duplicate "+email, err, store.ErrConflict)
	}
	users, err := s.ListUsers(ctx(t))
	must(t, "list", err)
	if len(users) != 1 || users[0].Role != "viewer" {
		t.Fatalf("after conflicts: %+v", users)
	}
}

func testUserNotFound(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "present@example.com", "viewer")
	tests := []struct {
		name string
		call func() error
	}{
		{"GetUser(0)", func() error { _, err := s.GetUser(ctx(t), 0); return err }},
		{"GetUser(missing)", func() error { _, err := s.GetUser(ctx(t), u.ID+1000); return err }},
		{"GetUserByEmail(missing)", func() error { _, err := s.GetUserByEmail(ctx(t), "absent@example.com"); return err }},
		{"GetUserByEmail(empty)", func() error { _, err := s.GetUserByEmail(ctx(t), ""); return err }},
		{"UpdateUser(missing)", func() error { return s.UpdateUser(ctx(t), &store.User{ID: u.ID + 1000, Role: "admin"}) }},
		{"UpdateUser(0)", func() error { return s.UpdateUser(ctx(t), &store.User{Role: "admin"}) }},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.call(), store.ErrNotFound)
	}
}

func testUserUpdate(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "erin@example.com", "viewer")
	created := u.CreatedAt
	tests := []store.User{
		{Name: "Erin", Role: "deployer", Disabled: true},
		{Name: "", Role: "admin", Disabled: false, LastLoginAt: clk.Now()},
		{Name: "E", Role: "ops", Disabled: true, LastLoginAt: time.Time{}},
	}
	for i, tt := range tests {
		upd := *u
		upd.Name, upd.Role, upd.Disabled, upd.LastLoginAt = tt.Name, tt.Role, tt.Disabled, tt.LastLoginAt
		upd.Email = "changed@example.com" // the email is not updatable
		upd.CreatedAt = time.Time{}       // nor the creation time
		clk.Advance(time.Minute)
		must(t, "update", s.UpdateUser(ctx(t), &upd))
		checkNow(t, "UpdatedAt", upd.UpdatedAt, clk)
		got, err := s.GetUser(ctx(t), u.ID)
		must(t, "get", err)
		want := store.User{ID: u.ID, Email: "erin@example.com", Name: tt.Name, Role: tt.Role, Disabled: tt.Disabled,
			CreatedAt: created, UpdatedAt: upd.UpdatedAt, LastLoginAt: store.NormalizeTime(tt.LastLoginAt)}
		checkSame(t, fmt.Sprintf("after update %d", i), want, *got)
		checkSame(t, "updated struct", want, upd)
		if !got.UpdatedAt.After(got.CreatedAt) {
			t.Errorf("UpdatedAt %v not after CreatedAt %v", got.UpdatedAt, got.CreatedAt)
		}
	}
	if _, err := s.GetUserByEmail(ctx(t), "changed@example.com"); err == nil {
		t.Error("UpdateUser changed the email")
	}
}

func testUserLastLogin(t *testing.T, s store.Store, clk *clock.Fake) {
	tests := []struct {
		name string
		at   time.Time
	}{
		{"zero", time.Time{}},
		{"utc", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)},
		{"nanoseconds truncated", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{"other zone", time.Date(2026, 7, 1, 0, 0, 0, 1000, time.FixedZone("W", -9*3600-1800))},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 500000, time.UTC)},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"unix epoch", time.Unix(0, 0)},
	}
	u := mustUser(t, s, "frank@example.com", "viewer")
	for _, tt := range tests {
		u.LastLoginAt = tt.at
		must(t, tt.name, s.UpdateUser(ctx(t), u))
		checkTime(t, tt.name+": returned", u.LastLoginAt, tt.at)
		got, err := s.GetUser(ctx(t), u.ID)
		must(t, tt.name, err)
		checkTime(t, tt.name+": stored", got.LastLoginAt, tt.at)

		c := &store.User{Email: tt.name + "@example.com", LastLoginAt: tt.at}
		must(t, tt.name+": create", s.CreateUser(ctx(t), c))
		got, err = s.GetUser(ctx(t), c.ID)
		must(t, tt.name, err)
		checkTime(t, tt.name+": created", got.LastLoginAt, tt.at)
	}
}

func testUserList(t *testing.T, s store.Store, clk *clock.Fake) {
	users, err := s.ListUsers(ctx(t))
	must(t, "list empty", err)
	if len(users) != 0 {
		t.Fatalf("empty store lists %d users", len(users))
	}
	var want []store.User
	for _, e := range []string{"zed@example.com", "amy@example.com", "Mo@example.com"} {
		want = append(want, *mustUser(t, s, e, "viewer"))
	}
	users, err = s.ListUsers(ctx(t))
	must(t, "list", err)
	if len(users) != len(want) {
		t.Fatalf("listed %d users, want %d", len(users), len(want))
	}
	for i := range want {
		checkSame(t, "ListUsers[i] (ordered by id)", want[i], users[i])
	}
}
