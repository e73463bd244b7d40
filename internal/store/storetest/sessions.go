package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var sessionTests = []subtest{
	{"Sessions/Lifecycle", testSessionLifecycle},
	{"Sessions/LoginRequests", testLoginRequests},
	{"Sessions/LoginRequestExpiry", testLoginRequestExpiry},
}

func testSessionLifecycle(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	exp := clk.Now().Add(12 * time.Hour)
	clk.Advance(time.Second)
	a := &store.Session{Hash: []byte("hash-a-0123456789012345678901234"), UserID: u.ID, Kind: "web", UserAgent: "ua", SourceIP: "192.0.2.1", ExpiresAt: exp}
	must(t, "create", s.CreateSession(ctx(t), a))
	if a.ID == 0 || a.CreatedAt.IsZero() || !a.LastSeenAt.Equal(a.CreatedAt) {
		t.Fatalf("created session %+v", a)
	}
	checkNow(t, "CreatedAt", a.CreatedAt, clk)
	dup := &store.Session{Hash: a.Hash, UserID: u.ID, Kind: "web", ExpiresAt: exp}
	wantErr(t, "duplicate hash", s.CreateSession(ctx(t), dup), store.ErrConflict)
	wantErr(t, "missing user", s.CreateSession(ctx(t), &store.Session{Hash: []byte("x"), UserID: 9999, Kind: "cli", ExpiresAt: exp}), store.ErrNotFound)
	b := &store.Session{Hash: []byte("hash-b"), UserID: u.ID, Kind: "cli", Name: "prod", ExpiresAt: exp}
	must(t, "create b", s.CreateSession(ctx(t), b))
	c := &store.Session{Hash: []byte("hash-c"), UserID: other.ID, Kind: "web", ExpiresAt: exp}
	must(t, "create c", s.CreateSession(ctx(t), c))

	got, err := s.GetSessionByHash(ctx(t), a.Hash)
	must(t, "get", err)
	if got.ID != a.ID || got.UserID != u.ID || got.Kind != "web" || got.UserAgent != "ua" || got.SourceIP != "192.0.2.1" || !bytes.Equal(got.Hash, a.Hash) {
		t.Fatalf("got %+v", got)
	}
	checkTime(t, "expires", got.ExpiresAt, store.NormalizeTime(exp))
	checkSame(t, "stored session", *a, *got)
	_, err = s.GetSessionByHash(ctx(t), []byte("nope"))
	wantErr(t, "get unknown", err, store.ErrNotFound)

	later := clk.Advance(time.Minute)
	must(t, "touch", s.TouchSessions(ctx(t), map[int64]time.Time{a.ID: later, 9999: later, b.ID: {}}))
	must(t, "touch backwards", s.TouchSessions(ctx(t), map[int64]time.Time{a.ID: later.Add(-time.Hour)}))
	got, _ = s.GetSessionByHash(ctx(t), a.Hash)
	checkTime(t, "last seen", got.LastSeenAt, store.NormalizeTime(later))
	got, _ = s.GetSessionByHash(ctx(t), b.Hash)
	checkTime(t, "last seen after a zero touch", got.LastSeenAt, b.LastSeenAt)

	list, err := s.ListSessions(ctx(t), u.ID)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list = %+v", list)
	}
	all, err := s.ListSessions(ctx(t), 0)
	must(t, "list all", err)
	if len(all) != 3 || all[0].ID != c.ID {
		t.Fatalf("list all = %+v, want 3, newest first", all)
	}
	none, err := s.ListSessions(ctx(t), 9999)
	must(t, "list none", err)
	if none == nil || len(none) != 0 {
		t.Fatalf("list for a user without sessions = %#v, want empty", none)
	}
	at := clk.Now().Add(-time.Second)
	must(t, "revoke", s.RevokeSession(ctx(t), a.ID, at))
	must(t, "revoke again", s.RevokeSession(ctx(t), a.ID, clk.Now()))
	got, _ = s.GetSessionByHash(ctx(t), a.Hash)
	checkTime(t, "revoked (first wins)", got.RevokedAt, store.NormalizeTime(at))
	wantErr(t, "revoke unknown", s.RevokeSession(ctx(t), 9999, at), store.ErrNotFound)
	clk.Advance(time.Hour)
	n, err := s.RevokeUserSessions(ctx(t), u.ID, time.Time{})
	must(t, "revoke user", err)
	if n != 1 {
		t.Fatalf("revoked %d of the user's active sessions, want 1", n)
	}
	got, _ = s.GetSessionByHash(ctx(t), b.Hash)
	checkNow(t, "revoked with a zero time", got.RevokedAt, clk)
	got, _ = s.GetSessionByHash(ctx(t), c.Hash)
	if !got.RevokedAt.IsZero() {
		t.Fatal("another user's session was revoked")
	}
	clk.Advance(time.Minute)
	must(t, "revoke c now", s.RevokeSession(ctx(t), c.ID, time.Time{}))
	got, _ = s.GetSessionByHash(ctx(t), c.Hash)
	checkNow(t, "RevokeSession with a zero time", got.RevokedAt, clk)
}

func testLoginRequests(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	r := &store.LoginRequest{IDHash: []byte("id-1"), BrowserHash: []byte("browser"), Nonce: "n", Verifier: "v",
		ReturnTo: "/audit", CLIChallenge: "chal", CLIName: "prod", ExpiresAt: clk.Now().Add(10 * time.Minute)}
	must(t, "create", s.CreateLoginRequest(ctx(t), r))
	checkNow(t, "CreatedAt", r.CreatedAt, clk)
	wantErr(t, "duplicate", s.CreateLoginRequest(ctx(t), &store.LoginRequest{IDHash: []byte("id-1"), BrowserHash: []byte("b"), ExpiresAt: clk.Now()}), store.ErrConflict)
	got, err := s.GetLoginRequest(ctx(t), []byte("id-1"))
	must(t, "get", err)
	if got.Nonce != "n" || got.Verifier != "v" || got.ReturnTo != "/audit" || got.CLIChallenge != "chal" || got.CLIName != "prod" ||
		!bytes.Equal(got.BrowserHash, []byte("browser")) || got.UserID != 0 || !got.CompletedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	checkSame(t, "stored login request", *r, *got)
	_, err = s.GetLoginRequest(ctx(t), []byte("nope"))
	wantErr(t, "get unknown", err, store.ErrNotFound)
	done := clk.Advance(time.Second)
	must(t, "complete", s.CompleteLoginRequest(ctx(t), []byte("id-1"), u.ID, store.SecondFactor{Method: "totp", At: done.Add(-time.Second)}, done))
	wantErr(t, "complete twice", s.CompleteLoginRequest(ctx(t), []byte("id-1"), u.ID, store.SecondFactor{}, clk.Now()), store.ErrConflict)
	wantErr(t, "complete unknown", s.CompleteLoginRequest(ctx(t), []byte("nope"), u.ID, store.SecondFactor{}, clk.Now()), store.ErrNotFound)
	used := clk.Advance(time.Second)
	must(t, "consume", s.ConsumeLoginRequest(ctx(t), []byte("id-1"), used))
	wantErr(t, "consume twice", s.ConsumeLoginRequest(ctx(t), []byte("id-1"), clk.Now()), store.ErrConflict)
	wantErr(t, "consume unknown", s.ConsumeLoginRequest(ctx(t), []byte("nope"), clk.Now()), store.ErrNotFound)
	got, _ = s.GetLoginRequest(ctx(t), []byte("id-1"))
	if got.UserID != u.ID || got.CompletedAt.IsZero() || got.ConsumedAt.IsZero() {
		t.Fatalf("after complete+consume: %+v", got)
	}
	checkTime(t, "CompletedAt", got.CompletedAt, done)
	checkTime(t, "ConsumedAt", got.ConsumedAt, used)
	if got.SecondFactor.Method != "totp" {
		t.Errorf("the browser's second factor: %+v", got.SecondFactor)
	}
	checkTime(t, "SecondFactor.At", got.SecondFactor.At, done.Add(-time.Second))
	// A consumed request can no longer be completed.
	r2 := &store.LoginRequest{IDHash: []byte("id-2"), BrowserHash: []byte("b"), ExpiresAt: clk.Now().Add(time.Minute)}
	must(t, "create 2", s.CreateLoginRequest(ctx(t), r2))
	must(t, "consume 2", s.ConsumeLoginRequest(ctx(t), []byte("id-2"), clk.Now()))
	wantErr(t, "complete consumed", s.CompleteLoginRequest(ctx(t), []byte("id-2"), u.ID, store.SecondFactor{}, clk.Now()), store.ErrConflict)
	// A zero time means now, so a zero time never leaves a request
	// reusable.
	r3 := &store.LoginRequest{IDHash: []byte("id-3"), BrowserHash: []byte("b"), ExpiresAt: clk.Now().Add(time.Minute)}
	must(t, "create 3", s.CreateLoginRequest(ctx(t), r3))
	clk.Advance(time.Second)
	must(t, "complete 3 at a zero time", s.CompleteLoginRequest(ctx(t), []byte("id-3"), u.ID, store.SecondFactor{}, time.Time{}))
	wantErr(t, "complete 3 again", s.CompleteLoginRequest(ctx(t), []byte("id-3"), u.ID, store.SecondFactor{}, time.Time{}), store.ErrConflict)
	must(t, "consume 3 at a zero time", s.ConsumeLoginRequest(ctx(t), []byte("id-3"), time.Time{}))
	wantErr(t, "consume 3 again", s.ConsumeLoginRequest(ctx(t), []byte("id-3"), time.Time{}), store.ErrConflict)
	got, _ = s.GetLoginRequest(ctx(t), []byte("id-3"))
	checkNow(t, "CompletedAt for a zero time", got.CompletedAt, clk)
	checkNow(t, "ConsumedAt for a zero time", got.ConsumedAt, clk)
}

// Creating a login request drops those that expired more than an hour
// before the store's now, and no others.
func testLoginRequestExpiry(t *testing.T, s store.Store, clk *clock.Fake) {
	create := func(id string, ttl time.Duration) {
		t.Helper()
		must(t, "create "+id, s.CreateLoginRequest(ctx(t), &store.LoginRequest{IDHash: []byte(id), BrowserHash: []byte("b"),
			ExpiresAt: clk.Now().Add(ttl)}))
	}
	present := func(id string, want bool) {
		t.Helper()
		_, err := s.GetLoginRequest(ctx(t), []byte(id))
		switch {
		case want:
			must(t, id+" should still exist", err)
		default:
			wantErr(t, id+" should have been dropped", err, store.ErrNotFound)
		}
	}
	create("old", 10*time.Minute)
	create("long", 3*time.Hour)
	// Exactly an hour past expiry: kept.
	clk.Advance(10*time.Minute + time.Hour)
	create("a", 10*time.Minute)
	present("old", true)
	// A microsecond later: dropped by the next create, the others kept.
	clk.Advance(time.Microsecond)
	present("old", true) // reads delete nothing
	create("b", 10*time.Minute)
	present("old", false)
	present("long", true)
	present("a", true)
	present("b", true)
}
