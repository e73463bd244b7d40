package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

var sessionTests = []subtest{
	{"Sessions/Lifecycle", testSessionLifecycle},
	{"Sessions/LoginRequests", testLoginRequests},
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	exp := time.Now().Add(12 * time.Hour)
	a := &store.Session{Hash: []byte("hash-a-0123456789012345678901234"), UserID: u.ID, Kind: "web", UserAgent: "ua", SourceIP: "192.0.2.1", ExpiresAt: exp}
	must(t, "create", s.CreateSession(ctx(t), a))
	if a.ID == 0 || a.CreatedAt.IsZero() || !a.LastSeenAt.Equal(a.CreatedAt) {
		t.Fatalf("created session %+v", a)
	}
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
	_, err = s.GetSessionByHash(ctx(t), []byte("nope"))
	wantErr(t, "get unknown", err, store.ErrNotFound)

	later := time.Now().Add(time.Minute)
	must(t, "touch", s.TouchSessions(ctx(t), map[int64]time.Time{a.ID: later, 9999: later}))
	must(t, "touch backwards", s.TouchSessions(ctx(t), map[int64]time.Time{a.ID: time.Now().Add(-time.Hour)}))
	got, _ = s.GetSessionByHash(ctx(t), a.Hash)
	checkTime(t, "last seen", got.LastSeenAt, store.NormalizeTime(later))

	list, err := s.ListSessions(ctx(t), u.ID)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list = %+v", list)
	}
	all, err := s.ListSessions(ctx(t), 0)
	must(t, "list all", err)
	if len(all) != 3 {
		t.Fatalf("list all = %d", len(all))
	}
	at := time.Now().Add(-time.Second)
	must(t, "revoke", s.RevokeSession(ctx(t), a.ID, at))
	must(t, "revoke again", s.RevokeSession(ctx(t), a.ID, time.Now()))
	got, _ = s.GetSessionByHash(ctx(t), a.Hash)
	checkTime(t, "revoked (first wins)", got.RevokedAt, store.NormalizeTime(at))
	wantErr(t, "revoke unknown", s.RevokeSession(ctx(t), 9999, at), store.ErrNotFound)
	n, err := s.RevokeUserSessions(ctx(t), u.ID, time.Time{})
	must(t, "revoke user", err)
	if n != 1 {
		t.Fatalf("revoked %d of the user's active sessions, want 1", n)
	}
	got, _ = s.GetSessionByHash(ctx(t), c.Hash)
	if !got.RevokedAt.IsZero() {
		t.Fatal("another user's session was revoked")
	}
}

func testLoginRequests(t *testing.T, s store.Store) {
	u := mustUser(t, s, "a@example.com", "viewer")
	r := &store.LoginRequest{IDHash: []byte("id-1"), BrowserHash: []byte("browser"), Nonce: "n", Verifier: "v",
		ReturnTo: "/audit", CLIChallenge: "chal", CLIName: "prod", ExpiresAt: time.Now().Add(10 * time.Minute)}
	must(t, "create", s.CreateLoginRequest(ctx(t), r))
	wantErr(t, "duplicate", s.CreateLoginRequest(ctx(t), &store.LoginRequest{IDHash: []byte("id-1"), BrowserHash: []byte("b"), ExpiresAt: time.Now()}), store.ErrConflict)
	got, err := s.GetLoginRequest(ctx(t), []byte("id-1"))
	must(t, "get", err)
	if got.Nonce != "n" || got.Verifier != "v" || got.ReturnTo != "/audit" || got.CLIChallenge != "chal" || got.CLIName != "prod" ||
		!bytes.Equal(got.BrowserHash, []byte("browser")) || got.UserID != 0 || !got.CompletedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	_, err = s.GetLoginRequest(ctx(t), []byte("nope"))
	wantErr(t, "get unknown", err, store.ErrNotFound)
	must(t, "complete", s.CompleteLoginRequest(ctx(t), []byte("id-1"), u.ID, time.Now()))
	wantErr(t, "complete twice", s.CompleteLoginRequest(ctx(t), []byte("id-1"), u.ID, time.Now()), store.ErrConflict)
	wantErr(t, "complete unknown", s.CompleteLoginRequest(ctx(t), []byte("nope"), u.ID, time.Now()), store.ErrNotFound)
	must(t, "consume", s.ConsumeLoginRequest(ctx(t), []byte("id-1"), time.Now()))
	wantErr(t, "consume twice", s.ConsumeLoginRequest(ctx(t), []byte("id-1"), time.Now()), store.ErrConflict)
	got, _ = s.GetLoginRequest(ctx(t), []byte("id-1"))
	if got.UserID != u.ID || got.CompletedAt.IsZero() || got.ConsumedAt.IsZero() {
		t.Fatalf("after complete+consume: %+v", got)
	}
	// A consumed request can no longer be completed.
	r2 := &store.LoginRequest{IDHash: []byte("id-2"), BrowserHash: []byte("b"), ExpiresAt: time.Now().Add(time.Minute)}
	must(t, "create 2", s.CreateLoginRequest(ctx(t), r2))
	must(t, "consume 2", s.ConsumeLoginRequest(ctx(t), []byte("id-2"), time.Now()))
	wantErr(t, "complete consumed", s.CompleteLoginRequest(ctx(t), []byte("id-2"), u.ID, time.Now()), store.ErrConflict)
}
