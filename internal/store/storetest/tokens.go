package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

var tokenTests = []subtest{
	{"Tokens/CreateAndGet", testTokenCreateGet},
	{"Tokens/Permissions", testTokenPermissions},
	{"Tokens/ZeroTimes", testTokenTimes},
	{"Tokens/Errors", testTokenErrors},
	{"Tokens/List", testTokenList},
	{"Tokens/Revoke", testTokenRevoke},
	{"Tokens/Touch", testTokenTouch},
}

// hash returns the SHA-256 of s, as the gateway stores token secrets.
func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// mustToken creates a token named name owned by userID.
func mustToken(t *testing.T, s store.Store, name string, userID int64) *store.APIToken {
	t.Helper()
	tok := &store.APIToken{Name: name, Prefix: "rgw_" + name, Hash: hash(name), UserID: userID}
	must(t, "create token "+name, s.CreateToken(ctx(t), tok))
	return tok
}

// checkToken fails t unless the stored token with want's ID equals want,
// read both by id and by hash.
func checkToken(t *testing.T, s store.Store, what string, want store.APIToken) {
	t.Helper()
	got, err := s.GetToken(ctx(t), want.ID)
	must(t, what+": GetToken", err)
	checkSame(t, what+": GetToken", want, *got)
	got, err = s.GetTokenByHash(ctx(t), want.Hash)
	must(t, what+": GetTokenByHash", err)
	checkSame(t, what+": GetTokenByHash", want, *got)
}

func testTokenCreateGet(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "dave@example.com", "deployer")
	admin := mustUser(t, s, "erin@example.com", "admin")
	exp := clk.Now().Add(time.Hour)
	tok := &store.APIToken{Name: "ci", Prefix: "rgw_abcdef", Hash: hash("one"), UserID: u.ID,
		Permissions: []string{"app:read", "build:create"}, ExpiresAt: exp, CreatedBy: admin.ID}
	must(t, "create", s.CreateToken(ctx(t), tok))
	if tok.ID <= 0 {
		t.Fatalf("ID = %d", tok.ID)
	}
	checkNow(t, "CreatedAt", tok.CreatedAt, clk)
	checkTime(t, "ExpiresAt", tok.ExpiresAt, exp)
	checkToken(t, s, "created", *tok)

	// The stored hash is a copy: changing the caller's slice changes nothing.
	h := tok.Hash
	h[0] ^= 0xff
	if _, err := s.GetTokenByHash(ctx(t), hash("one")); err != nil {
		t.Fatalf("token not found after the caller reused its hash slice: %v", err)
	}

	// A token without an owner (UserID 0) is allowed and reads back as 0.
	sys := &store.APIToken{Name: "system", Hash: hash("system")}
	must(t, "create ownerless", s.CreateToken(ctx(t), sys))
	got, err := s.GetToken(ctx(t), sys.ID)
	must(t, "get ownerless", err)
	if got.UserID != 0 {
		t.Errorf("ownerless token UserID = %d", got.UserID)
	}
	if sys.ID <= tok.ID {
		t.Errorf("IDs not increasing: %d then %d", tok.ID, sys.ID)
	}
	// Arbitrary bytes, including NUL, are a valid hash.
	odd := &store.APIToken{Name: "odd", Hash: []byte{0, 1, 0, 0xff}}
	must(t, "create odd hash", s.CreateToken(ctx(t), odd))
	got, err = s.GetTokenByHash(ctx(t), []byte{0, 1, 0, 0xff})
	must(t, "get odd hash", err)
	if got.ID != odd.ID || !bytes.Equal(got.Hash, odd.Hash) {
		t.Errorf("odd hash: got %+v", got)
	}
}

func testTokenPermissions(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "perm@example.com", "admin")
	tests := []struct {
		name  string
		perms []string
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"one", []string{"app:read"}},
		{"many", []string{"app:read", "build:create", "release:promote", "process:exec"}},
		{"awkward", []string{"a,b", `q"uote`, "{brace}", "NULL", "", "spa ce", "ü", `back\slash`, "[x]"}},
		{"duplicates kept", []string{"x", "x"}},
	}
	for _, tt := range tests {
		tok := &store.APIToken{Name: tt.name, Hash: hash("perm " + tt.name), UserID: u.ID, Permissions: tt.perms}
		must(t, tt.name, s.CreateToken(ctx(t), tok))
		got, err := s.GetToken(ctx(t), tok.ID)
		must(t, tt.name, err)
		if len(tt.perms) == 0 && len(got.Permissions) != 0 || len(tt.perms) > 0 && !slices.Equal(got.Permissions, tt.perms) {
			t.Errorf("%s: Permissions = %q, want %q", tt.name, got.Permissions, tt.perms)
		}
	}
}

func testTokenTimes(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "times@example.com", "admin")
	at := time.Date(2026, 2, 3, 4, 5, 6, 789123456, time.FixedZone("P", 8*3600))
	var zero time.Time
	tests := []struct {
		name                   string
		expires, used, revoked time.Time
	}{
		{"all zero", zero, zero, zero},
		{"expires only", at, zero, zero},
		{"used only", zero, at.Add(-time.Hour), zero},
		{"revoked only", zero, zero, at.Add(time.Minute)},
		{"all set", at, at.Add(-time.Hour), at.Add(time.Minute)},
	}
	for i, tt := range tests {
		tok := &store.APIToken{Name: tt.name, Hash: hash(fmt.Sprint("times", i)), UserID: u.ID,
			ExpiresAt: tt.expires, LastUsedAt: tt.used, RevokedAt: tt.revoked}
		must(t, tt.name, s.CreateToken(ctx(t), tok))
		got, err := s.GetToken(ctx(t), tok.ID)
		must(t, tt.name, err)
		checkTime(t, tt.name+": ExpiresAt", got.ExpiresAt, tt.expires)
		checkTime(t, tt.name+": LastUsedAt", got.LastUsedAt, tt.used)
		checkTime(t, tt.name+": RevokedAt", got.RevokedAt, tt.revoked)
		checkTime(t, tt.name+": CreatedAt", got.CreatedAt, tok.CreatedAt)
		checkSame(t, tt.name+": returned struct", *got, *tok)
	}
}

func testTokenErrors(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "err@example.com", "admin")
	mustToken(t, s, "taken", u.ID)
	tests := []struct {
		name   string
		call   func() error
		target error
	}{
		{"duplicate hash", func() error {
			return s.CreateToken(ctx(t), &store.APIToken{Name: "dup", Hash: hash("taken"), UserID: u.ID})
		}, store.ErrConflict},
		{"duplicate hash, no owner", func() error {
			return s.CreateToken(ctx(t), &store.APIToken{Name: "dup", Hash: hash("taken")})
		}, store.ErrConflict},
		{"missing owner", func() error {
			return s.CreateToken(ctx(t), &store.APIToken{Name: "orphan", Hash: hash("orphan"), UserID: u.ID + 1000})
		}, store.ErrNotFound},
		{"GetToken(missing)", func() error { _, err := s.GetToken(ctx(t), 777777); return err }, store.ErrNotFound},
		{"GetToken(0)", func() error { _, err := s.GetToken(ctx(t), 0); return err }, store.ErrNotFound},
		{"GetTokenByHash(missing)", func() error { _, err := s.GetTokenByHash(ctx(t), hash("nope")); return err }, store.ErrNotFound},
		{"GetTokenByHash(nil)", func() error { _, err := s.GetTokenByHash(ctx(t), nil); return err }, store.ErrNotFound},
		{"RevokeToken(missing)", func() error { return s.RevokeToken(ctx(t), 777777, clk.Now()) }, store.ErrNotFound},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.call(), tt.target)
	}
	if err := s.CreateToken(ctx(t), &store.APIToken{Name: "nohash"}); err == nil {
		t.Error("CreateToken without a hash succeeded")
	}
	all, err := s.ListTokens(ctx(t), 0)
	must(t, "list", err)
	if len(all) != 1 {
		t.Errorf("failed creates left %d tokens, want 1", len(all))
	}
}

func testTokenList(t *testing.T, s store.Store, clk *clock.Fake) {
	all, err := s.ListTokens(ctx(t), 0)
	must(t, "list empty", err)
	if len(all) != 0 {
		t.Fatalf("empty store lists %d tokens", len(all))
	}
	a := mustUser(t, s, "a@example.com", "admin")
	b := mustUser(t, s, "b@example.com", "admin")
	none := mustUser(t, s, "none@example.com", "admin")
	var want []store.APIToken
	for _, spec := range []struct {
		name  string
		owner int64
	}{{"a1", a.ID}, {"b1", b.ID}, {"a2", a.ID}, {"sys", 0}, {"a3", a.ID}} {
		want = append(want, *mustToken(t, s, spec.name, spec.owner))
	}
	byOwner := func(owner int64) []store.APIToken {
		var out []store.APIToken
		for _, tok := range want {
			if owner == 0 || tok.UserID == owner {
				out = append(out, tok)
			}
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		owner int64
		want  []store.APIToken
	}{
		{"all", 0, want},
		{"a", a.ID, byOwner(a.ID)},
		{"b", b.ID, byOwner(b.ID)},
		{"no tokens", none.ID, nil},
		{"missing user", 987654, nil},
	} {
		got, err := s.ListTokens(ctx(t), tt.owner)
		must(t, tt.name, err)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d tokens, want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for i := range got {
			checkSame(t, tt.name+" (ordered by id)", tt.want[i], got[i])
		}
	}
}

func testTokenRevoke(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "rev@example.com", "admin")
	tok := mustToken(t, s, "rev", u.ID)
	at := time.Date(2026, 4, 5, 6, 7, 8, 999999999, time.FixedZone("Q", 3600))
	must(t, "revoke", s.RevokeToken(ctx(t), tok.ID, at))
	want := *tok
	want.RevokedAt = store.NormalizeTime(at)
	checkToken(t, s, "revoked", want)

	// Revoking again keeps the first revocation time.
	must(t, "revoke again", s.RevokeToken(ctx(t), tok.ID, at.Add(time.Hour)))
	checkToken(t, s, "revoked twice", want)

	// A zero time means now.
	other := mustToken(t, s, "rev-now", u.ID)
	clk.Advance(time.Hour)
	must(t, "revoke now", s.RevokeToken(ctx(t), other.ID, time.Time{}))
	got, err := s.GetToken(ctx(t), other.ID)
	must(t, "get", err)
	checkNow(t, "RevokedAt for a zero time", got.RevokedAt, clk)
}

func testTokenTouch(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "touch@example.com", "admin")
	t1, t2, t3 := mustToken(t, s, "t1", u.ID), mustToken(t, s, "t2", u.ID), mustToken(t, s, "t3", u.ID)
	base := time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.FixedZone("Z", -3600))

	must(t, "touch nil", s.TouchTokens(ctx(t), nil))
	must(t, "touch empty", s.TouchTokens(ctx(t), map[int64]time.Time{}))
	steps := []struct {
		name  string
		touch map[int64]time.Time
		want  map[int64]time.Time // last-used per token afterwards; absent = zero
	}{
		{"batch with an unknown id",
			map[int64]time.Time{t1.ID: base, t2.ID: base.Add(time.Second), 999999: base},
			map[int64]time.Time{t1.ID: base, t2.ID: base.Add(time.Second)}},
		{"later time moves forward, older is ignored, zero is ignored",
			map[int64]time.Time{t1.ID: base.Add(time.Minute), t2.ID: base.Add(-time.Hour), t3.ID: {}},
			map[int64]time.Time{t1.ID: base.Add(time.Minute), t2.ID: base.Add(time.Second)}},
		{"equal time is a no-op",
			map[int64]time.Time{t1.ID: base.Add(time.Minute)},
			map[int64]time.Time{t1.ID: base.Add(time.Minute), t2.ID: base.Add(time.Second)}},
		{"first use of t3",
			map[int64]time.Time{t3.ID: base},
			map[int64]time.Time{t1.ID: base.Add(time.Minute), t2.ID: base.Add(time.Second), t3.ID: base}},
	}
	for _, st := range steps {
		must(t, st.name, s.TouchTokens(ctx(t), st.touch))
		for _, tok := range []*store.APIToken{t1, t2, t3} {
			got, err := s.GetToken(ctx(t), tok.ID)
			must(t, st.name, err)
			checkTime(t, fmt.Sprintf("%s: %s LastUsedAt", st.name, tok.Name), got.LastUsedAt, st.want[tok.ID])
		}
	}
	if _, err := s.GetToken(ctx(t), 999999); err == nil {
		t.Error("TouchTokens created a token")
	}
}
