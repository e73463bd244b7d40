package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var mfaTests = []subtest{
	{"MFA/Methods", testMFAMethods},
	{"MFA/TOTPStepOnce", testMFATOTPStepOnce},
	{"MFA/TOTPStepOncePerUser", testMFATOTPStepOncePerUser},
	{"MFA/BackupCodes", testMFABackupCodes},
	{"MFA/Accounts", testMFAAccounts},
	{"MFA/Challenges", testMFAChallenges},
	{"MFA/TrustedDevices", testTrustedDevices},
	{"MFA/SessionProof", testSessionMFA},
	{"MFA/Reset", testResetUserMFA},
}

func testMFAMethods(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	totp := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Name: "phone", SecretKeyID: "k1", Secret: []byte("sealed")}
	must(t, "create totp", s.CreateMFAMethod(ctx(t), totp))
	if totp.ID == 0 {
		t.Fatal("no id")
	}
	checkNow(t, "CreatedAt", totp.CreatedAt, clk)
	key := &store.MFAMethod{UserID: u.ID, Kind: store.MFAYubiKey, Name: "blue", PublicID: "cccccbcdefgh"}
	must(t, "create yubikey", s.CreateMFAMethod(ctx(t), key))
	wantErr(t, "a key bound to another user", s.CreateMFAMethod(ctx(t),
		&store.MFAMethod{UserID: other.ID, Kind: store.MFAYubiKey, PublicID: "cccccbcdefgh"}), store.ErrConflict)
	pk := &store.MFAMethod{UserID: u.ID, Kind: store.MFAWebAuthn, CredentialID: []byte{1, 2, 3}, Credential: []byte(`{"c":1}`)}
	must(t, "create webauthn", s.CreateMFAMethod(ctx(t), pk))
	wantErr(t, "a taken credential id", s.CreateMFAMethod(ctx(t),
		&store.MFAMethod{UserID: other.ID, Kind: store.MFAWebAuthn, CredentialID: []byte{1, 2, 3}}), store.ErrConflict)
	wantErr(t, "a missing user", s.CreateMFAMethod(ctx(t), &store.MFAMethod{UserID: 9999, Kind: store.MFATOTP}), store.ErrNotFound)
	// Two TOTP methods have no public id or credential id: NULLs do not collide.
	must(t, "second totp", s.CreateMFAMethod(ctx(t), &store.MFAMethod{UserID: other.ID, Kind: store.MFATOTP, Secret: []byte("x")}))

	got, err := s.GetMFAMethod(ctx(t), u.ID, totp.ID)
	must(t, "get", err)
	checkSame(t, "stored totp", *totp, *got)
	_, err = s.GetMFAMethod(ctx(t), other.ID, totp.ID)
	wantErr(t, "get another user's method", err, store.ErrNotFound)

	list, err := s.ListMFAMethods(ctx(t), u.ID)
	must(t, "list", err)
	if len(list) != 3 || list[0].ID != totp.ID || list[1].PublicID != "cccccbcdefgh" || !bytes.Equal(list[2].CredentialID, []byte{1, 2, 3}) {
		t.Fatalf("list = %+v", list)
	}
	all, err := s.ListMFAMethods(ctx(t), 0)
	must(t, "list all", err)
	if len(all) != 4 {
		t.Fatalf("%d methods in all, want 4", len(all))
	}

	used := clk.Advance(time.Minute)
	must(t, "use webauthn", s.UseMFAMethod(ctx(t), pk.ID, 0, []byte(`{"c":2}`)))
	got, _ = s.GetMFAMethod(ctx(t), u.ID, pk.ID)
	if string(got.Credential) != `{"c":2}` {
		t.Errorf("credential after use = %s", got.Credential)
	}
	checkTime(t, "LastUsedAt", got.LastUsedAt, used)
	must(t, "use yubikey", s.UseMFAMethod(ctx(t), key.ID, 0, nil))
	wantErr(t, "use a missing method", s.UseMFAMethod(ctx(t), 9999, 0, nil), store.ErrNotFound)

	must(t, "reseal", s.ResealMFASecret(ctx(t), totp.ID, "k2", []byte("resealed")))
	got, _ = s.GetMFAMethod(ctx(t), u.ID, totp.ID)
	if got.SecretKeyID != "k2" || string(got.Secret) != "resealed" {
		t.Errorf("after reseal: %q %q", got.SecretKeyID, got.Secret)
	}

	wantErr(t, "delete another user's method", s.DeleteMFAMethod(ctx(t), other.ID, totp.ID), store.ErrNotFound)
	must(t, "delete", s.DeleteMFAMethod(ctx(t), u.ID, key.ID))
	wantErr(t, "delete again", s.DeleteMFAMethod(ctx(t), u.ID, key.ID), store.ErrNotFound)
	// The key's public id is free again once its method is gone.
	must(t, "re-enrol the key", s.CreateMFAMethod(ctx(t), &store.MFAMethod{UserID: other.ID, Kind: store.MFAYubiKey, PublicID: "cccccbcdefgh"}))
}

// One TOTP step is accepted once, even when many uses race.
func testMFATOTPStepOnce(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	m := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Secret: []byte("x")}
	must(t, "create", s.CreateMFAMethod(ctx(t), m))
	must(t, "first use of step 100", s.UseMFAMethod(ctx(t), m.ID, 100, nil))
	wantErr(t, "step 100 again", s.UseMFAMethod(ctx(t), m.ID, 100, nil), store.ErrConflict)
	wantErr(t, "an earlier step", s.UseMFAMethod(ctx(t), m.ID, 99, nil), store.ErrConflict)
	wantErr(t, "a missing method", s.UseMFAMethod(ctx(t), 9999, 101, nil), store.ErrNotFound)

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for range 8 {
		wg.Go(func() {
			err := s.UseMFAMethod(ctx(t), m.ID, 101, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			default:
				conflicts++
			}
		})
	}
	wg.Wait()
	if ok != 1 || conflicts != 7 {
		t.Fatalf("racing uses of one step: %d accepted, %d refused; want 1 and 7", ok, conflicts)
	}
	got, _ := s.GetMFAMethod(ctx(t), u.ID, m.ID)
	if got.LastStep != 101 {
		t.Errorf("LastStep = %d, want 101", got.LastStep)
	}
}

// A time step is accepted once per user, whichever of their authenticator
// apps made the code, also when uses from two apps race; another user's
// steps are their own. A new app starts at the user's last step.
func testMFATOTPStepOncePerUser(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	phone := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Name: "phone", Secret: []byte("x")}
	tablet := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Name: "tablet", Secret: []byte("y")}
	theirs := &store.MFAMethod{UserID: other.ID, Kind: store.MFATOTP, Secret: []byte("z")}
	key := &store.MFAMethod{UserID: u.ID, Kind: store.MFAYubiKey, PublicID: "cccccccccccb"}
	for _, m := range []*store.MFAMethod{phone, tablet, theirs, key} {
		must(t, "create", s.CreateMFAMethod(ctx(t), m))
	}
	must(t, "step 100 from the phone", s.UseMFAMethod(ctx(t), phone.ID, 100, nil))
	// Only the app used records when it was used.
	used := clk.Advance(time.Minute)
	must(t, "step 101 from the tablet", s.UseMFAMethod(ctx(t), tablet.ID, 101, nil))
	gotPhone, _ := s.GetMFAMethod(ctx(t), u.ID, phone.ID)
	gotTablet, _ := s.GetMFAMethod(ctx(t), u.ID, tablet.ID)
	checkTime(t, "the tablet's LastUsedAt", gotTablet.LastUsedAt, used)
	if !gotPhone.LastUsedAt.Before(used) {
		t.Errorf("the phone's LastUsedAt %v moved with the tablet's use", gotPhone.LastUsedAt)
	}
	wantErr(t, "step 100 from the tablet", s.UseMFAMethod(ctx(t), tablet.ID, 100, nil), store.ErrConflict)
	wantErr(t, "step 99 from the tablet", s.UseMFAMethod(ctx(t), tablet.ID, 99, nil), store.ErrConflict)
	must(t, "step 100 for another user", s.UseMFAMethod(ctx(t), theirs.ID, 100, nil))
	wantErr(t, "step 101 from the phone", s.UseMFAMethod(ctx(t), phone.ID, 101, nil), store.ErrConflict)
	gotPhone, _ = s.GetMFAMethod(ctx(t), u.ID, phone.ID)
	gotTablet, _ = s.GetMFAMethod(ctx(t), u.ID, tablet.ID)
	if gotPhone.LastStep != 101 || gotTablet.LastStep != 101 {
		t.Errorf("last steps %d and %d, want 101 for both", gotPhone.LastStep, gotTablet.LastStep)
	}
	if gotK, _ := s.GetMFAMethod(ctx(t), u.ID, key.ID); gotK.LastStep != 0 {
		t.Errorf("a YubiKey got TOTP step %d", gotK.LastStep)
	}
	// A third app enrolled with an older confirming step starts at 101.
	laptop := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Name: "laptop", Secret: []byte("w"), LastStep: 50}
	must(t, "create laptop", s.CreateMFAMethod(ctx(t), laptop))
	if laptop.LastStep != 101 {
		t.Errorf("a new app's LastStep = %d, want the user's 101", laptop.LastStep)
	}
	wantErr(t, "step 101 from the new app", s.UseMFAMethod(ctx(t), laptop.ID, 101, nil), store.ErrConflict)
	// ...and one enrolled with a newer step moves the others on.
	watch := &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Name: "watch", Secret: []byte("v"), LastStep: 110}
	must(t, "create watch", s.CreateMFAMethod(ctx(t), watch))
	wantErr(t, "step 110 from the phone after the watch's enrolment", s.UseMFAMethod(ctx(t), phone.ID, 110, nil), store.ErrConflict)

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 8 {
		wg.Go(func() {
			id := phone.ID
			if i%2 == 1 {
				id = tablet.ID
			}
			if s.UseMFAMethod(ctx(t), id, 111, nil) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("racing uses of one step from two apps: %d accepted, want 1", ok)
	}
}

func testMFABackupCodes(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	h := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	must(t, "replace", s.ReplaceBackupCodes(ctx(t), u.ID, [][]byte{h(1), h(2), h(3)}))
	wantErr(t, "codes for a missing user", s.ReplaceBackupCodes(ctx(t), 9999, [][]byte{h(1)}), store.ErrNotFound)
	if n, err := s.CountBackupCodes(ctx(t), u.ID); err != nil || n != 3 {
		t.Fatalf("count = %d, %v", n, err)
	}
	must(t, "use", s.UseBackupCode(ctx(t), u.ID, h(2)))
	wantErr(t, "use again", s.UseBackupCode(ctx(t), u.ID, h(2)), store.ErrNotFound)
	wantErr(t, "another user's code", s.UseBackupCode(ctx(t), other.ID, h(1)), store.ErrNotFound)
	wantErr(t, "an unknown code", s.UseBackupCode(ctx(t), u.ID, h(9)), store.ErrNotFound)
	if n, _ := s.CountBackupCodes(ctx(t), u.ID); n != 2 {
		t.Fatalf("count after a use = %d, want 2", n)
	}
	must(t, "regenerate", s.ReplaceBackupCodes(ctx(t), u.ID, [][]byte{h(4), h(5)}))
	wantErr(t, "an old code after regeneration", s.UseBackupCode(ctx(t), u.ID, h(1)), store.ErrNotFound)
	if n, _ := s.CountBackupCodes(ctx(t), u.ID); n != 2 {
		t.Fatalf("count after regeneration = %d, want 2", n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if s.UseBackupCode(ctx(t), u.ID, h(4)) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("racing uses of one code: %d succeeded, want 1", ok)
	}
}

func testMFAAccounts(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	_, err := s.RecordMFAFailure(ctx(t), u.ID, 3)
	wantErr(t, "failure without an account", err, store.ErrNotFound)
	a, err := s.GetMFAAccount(ctx(t), u.ID, []byte("handle-1"))
	must(t, "get", err)
	if string(a.Handle) != "handle-1" || a.Failures != 0 || !a.LockedAt.IsZero() {
		t.Fatalf("new account %+v", a)
	}
	a, _ = s.GetMFAAccount(ctx(t), u.ID, []byte("handle-2"))
	if string(a.Handle) != "handle-1" {
		t.Fatalf("the handle changed to %q", a.Handle)
	}
	_, err = s.GetMFAAccount(ctx(t), 9999, []byte("h"))
	wantErr(t, "account of a missing user", err, store.ErrNotFound)

	for i := 1; i <= 2; i++ {
		a, err = s.RecordMFAFailure(ctx(t), u.ID, 3)
		must(t, "failure", err)
		if a.Failures != i || !a.LockedAt.IsZero() {
			t.Fatalf("after %d failures: %+v", i, a)
		}
	}
	must(t, "reset", s.ResetMFAFailures(ctx(t), u.ID))
	a, _ = s.GetMFAAccount(ctx(t), u.ID, []byte("x"))
	if a.Failures != 0 {
		t.Fatalf("failures after reset = %d", a.Failures)
	}
	var lockedAt time.Time
	for i := 1; i <= 4; i++ {
		if i == 3 {
			lockedAt = clk.Advance(time.Second)
		}
		a, err = s.RecordMFAFailure(ctx(t), u.ID, 3)
		must(t, "failure", err)
	}
	if a.Failures != 4 {
		t.Fatalf("failures = %d, want 4", a.Failures)
	}
	checkTime(t, "LockedAt (the third failure)", a.LockedAt, lockedAt)
	other := mustUser(t, s, "b@example.com", "viewer")
	_, err = s.GetMFAAccount(ctx(t), other.ID, []byte("handle-b"))
	must(t, "get b", err)
	_, err = s.RecordMFAFailure(ctx(t), other.ID, 3) // counted, not locked
	must(t, "failure b", err)
	locked, err := s.ListLockedMFAAccounts(ctx(t))
	must(t, "list locked", err)
	if len(locked) != 1 || locked[0].UserID != u.ID || locked[0].Failures != 4 {
		t.Fatalf("locked accounts %+v, want only user %d", locked, u.ID)
	}
	checkTime(t, "listed LockedAt", locked[0].LockedAt, lockedAt)
	must(t, "reset does not unlock", s.ResetMFAFailures(ctx(t), u.ID))
	a, _ = s.GetMFAAccount(ctx(t), u.ID, []byte("x"))
	if a.LockedAt.IsZero() {
		t.Fatal("ResetMFAFailures unlocked the user")
	}
	must(t, "unlock", s.UnlockMFA(ctx(t), u.ID))
	a, _ = s.GetMFAAccount(ctx(t), u.ID, []byte("x"))
	if !a.LockedAt.IsZero() || a.Failures != 0 {
		t.Fatalf("after unlock: %+v", a)
	}
	if locked, err := s.ListLockedMFAAccounts(ctx(t)); err != nil || len(locked) != 0 {
		t.Fatalf("locked accounts after unlock: %+v %v", locked, err)
	}
}

func testMFAChallenges(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	exp := clk.Now().Add(time.Hour)
	sa := &store.Session{Hash: []byte("sa"), UserID: u.ID, Kind: "web", ExpiresAt: exp}
	sb := &store.Session{Hash: []byte("sb"), UserID: u.ID, Kind: "web", ExpiresAt: exp}
	must(t, "session a", s.CreateSession(ctx(t), sa))
	must(t, "session b", s.CreateSession(ctx(t), sb))
	c := &store.MFAChallenge{Hash: []byte("c1"), SessionID: sa.ID, Purpose: "webauthn-login", State: []byte("state"),
		ExpiresAt: clk.Now().Add(5 * time.Minute)}
	must(t, "put", s.PutMFAChallenge(ctx(t), c))
	checkNow(t, "CreatedAt", c.CreatedAt, clk)
	wantErr(t, "put a taken hash", s.PutMFAChallenge(ctx(t), &store.MFAChallenge{Hash: []byte("c1"), SessionID: sa.ID,
		State: []byte("x"), ExpiresAt: exp}), store.ErrConflict)
	_, err := s.TakeMFAChallenge(ctx(t), c.Hash, sb.ID, "webauthn-login")
	wantErr(t, "take with another session", err, store.ErrNotFound)
	_, err = s.TakeMFAChallenge(ctx(t), c.Hash, sa.ID, "webauthn-register")
	wantErr(t, "take for another purpose", err, store.ErrNotFound)
	got, err := s.TakeMFAChallenge(ctx(t), c.Hash, sa.ID, "webauthn-login")
	must(t, "take", err)
	checkSame(t, "taken challenge", *c, *got)
	_, err = s.TakeMFAChallenge(ctx(t), c.Hash, sa.ID, "webauthn-login")
	wantErr(t, "take twice", err, store.ErrNotFound)

	old := &store.MFAChallenge{Hash: []byte("c2"), SessionID: sa.ID, Purpose: "cli-verify", State: []byte("s"),
		ExpiresAt: clk.Now().Add(5 * time.Minute)}
	must(t, "put", s.PutMFAChallenge(ctx(t), old))
	_, err = s.PeekMFAChallenge(ctx(t), old.Hash)
	must(t, "peek", err)
	done := clk.Advance(time.Minute)
	must(t, "complete", s.CompleteMFAChallenge(ctx(t), old.Hash))
	wantErr(t, "complete twice", s.CompleteMFAChallenge(ctx(t), old.Hash), store.ErrNotFound)
	got, _ = s.PeekMFAChallenge(ctx(t), old.Hash)
	checkTime(t, "DoneAt", got.DoneAt, done)
	clk.Advance(4 * time.Minute)
	_, err = s.PeekMFAChallenge(ctx(t), old.Hash)
	wantErr(t, "peek expired", err, store.ErrNotFound)
	_, err = s.TakeMFAChallenge(ctx(t), old.Hash, sa.ID, "cli-verify")
	wantErr(t, "take expired", err, store.ErrNotFound)
	n, err := s.DeleteExpiredMFAChallenges(ctx(t))
	if err != nil || n != 1 {
		t.Fatalf("delete expired: %d, %v", n, err)
	}
}

func testTrustedDevices(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	exp := clk.Now().Add(30 * 24 * time.Hour)
	d := &store.TrustedDevice{Hash: []byte("d1"), UserID: u.ID, UserAgent: "ua", SourceIP: "192.0.2.1", ExpiresAt: exp}
	must(t, "create", s.CreateTrustedDevice(ctx(t), d))
	checkNow(t, "CreatedAt", d.CreatedAt, clk)
	wantErr(t, "a taken hash", s.CreateTrustedDevice(ctx(t), &store.TrustedDevice{Hash: []byte("d1"), UserID: u.ID, ExpiresAt: exp}), store.ErrConflict)
	wantErr(t, "a missing user", s.CreateTrustedDevice(ctx(t), &store.TrustedDevice{Hash: []byte("d9"), UserID: 9999, ExpiresAt: exp}), store.ErrNotFound)
	got, err := s.GetTrustedDeviceByHash(ctx(t), d.Hash)
	must(t, "get", err)
	checkSame(t, "stored device", *d, *got)
	used := clk.Advance(time.Hour)
	must(t, "touch", s.TouchTrustedDevice(ctx(t), d.ID))
	got, _ = s.GetTrustedDeviceByHash(ctx(t), d.Hash)
	checkTime(t, "LastUsedAt", got.LastUsedAt, used)
	d2 := &store.TrustedDevice{Hash: []byte("d2"), UserID: u.ID, ExpiresAt: exp}
	must(t, "create 2", s.CreateTrustedDevice(ctx(t), d2))
	list, err := s.ListTrustedDevices(ctx(t), u.ID)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != d2.ID {
		t.Fatalf("list = %+v", list)
	}
	wantErr(t, "revoke another user's device", s.RevokeTrustedDevice(ctx(t), other.ID, d.ID), store.ErrNotFound)
	revoked := clk.Advance(time.Second)
	must(t, "revoke", s.RevokeTrustedDevice(ctx(t), u.ID, d.ID))
	clk.Advance(time.Second)
	must(t, "revoke again keeps the first time", s.RevokeTrustedDevice(ctx(t), u.ID, d.ID))
	got, _ = s.GetTrustedDeviceByHash(ctx(t), d.Hash)
	checkTime(t, "RevokedAt", got.RevokedAt, revoked)
	if n, err := s.RevokeUserTrustedDevices(ctx(t), u.ID); err != nil || n != 1 {
		t.Fatalf("revoke user's devices: %d, %v", n, err)
	}
}

func testSessionMFA(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	proved := clk.Now().Add(-time.Minute)
	ss := &store.Session{Hash: []byte("s"), UserID: u.ID, Kind: "cli", ExpiresAt: clk.Now().Add(time.Hour),
		MFAMethod: "totp", MFAAt: proved}
	must(t, "create with a proof", s.CreateSession(ctx(t), ss))
	got, _ := s.GetSessionByHash(ctx(t), ss.Hash)
	if got.MFAMethod != "totp" {
		t.Errorf("MFAMethod = %q", got.MFAMethod)
	}
	checkTime(t, "MFAAt", got.MFAAt, proved)
	at := clk.Advance(time.Minute)
	must(t, "set", s.SetSessionMFA(ctx(t), ss.ID, "webauthn", time.Time{}))
	got, _ = s.GetSessionByHash(ctx(t), ss.Hash)
	if got.MFAMethod != "webauthn" {
		t.Errorf("MFAMethod = %q", got.MFAMethod)
	}
	checkTime(t, "MFAAt", got.MFAAt, at)
	wantErr(t, "set on a missing session", s.SetSessionMFA(ctx(t), 9999, "totp", at), store.ErrNotFound)
	plain := &store.Session{Hash: []byte("p"), UserID: u.ID, Kind: "web", ExpiresAt: clk.Now().Add(time.Hour)}
	must(t, "create without", s.CreateSession(ctx(t), plain))
	got, _ = s.GetSessionByHash(ctx(t), plain.Hash)
	if got.MFAMethod != "" || !got.MFAAt.IsZero() {
		t.Errorf("a new session has a proof: %q %v", got.MFAMethod, got.MFAAt)
	}
}

func testResetUserMFA(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "a@example.com", "viewer")
	other := mustUser(t, s, "b@example.com", "viewer")
	for _, id := range []int64{u.ID, other.ID} {
		must(t, "method", s.CreateMFAMethod(ctx(t), &store.MFAMethod{UserID: id, Kind: store.MFATOTP, Secret: []byte("x")}))
		must(t, "codes", s.ReplaceBackupCodes(ctx(t), id, [][]byte{{byte(id)}}))
		must(t, "device", s.CreateTrustedDevice(ctx(t), &store.TrustedDevice{Hash: []byte{byte(id)}, UserID: id, ExpiresAt: clk.Now().Add(time.Hour)}))
		_, err := s.GetMFAAccount(ctx(t), id, []byte{byte(id)})
		must(t, "account", err)
		for range 3 {
			_, err := s.RecordMFAFailure(ctx(t), id, 3)
			must(t, "failure", err)
		}
	}
	must(t, "reset", s.ResetUserMFA(ctx(t), u.ID))
	wantErr(t, "reset a missing user", s.ResetUserMFA(ctx(t), 9999), store.ErrNotFound)
	check := func(id int64, methods, codes int, locked bool, activeDevices int) {
		t.Helper()
		ms, _ := s.ListMFAMethods(ctx(t), id)
		n, _ := s.CountBackupCodes(ctx(t), id)
		a, _ := s.GetMFAAccount(ctx(t), id, []byte("x"))
		ds, _ := s.ListTrustedDevices(ctx(t), id)
		active := 0
		for _, d := range ds {
			if d.RevokedAt.IsZero() {
				active++
			}
		}
		if len(ms) != methods || n != codes || a.LockedAt.IsZero() == locked || active != activeDevices {
			t.Errorf("user %d: %d methods, %d codes, locked %v, %d devices; want %d, %d, %v, %d",
				id, len(ms), n, !a.LockedAt.IsZero(), active, methods, codes, locked, activeDevices)
		}
	}
	check(u.ID, 0, 0, false, 0)
	check(other.ID, 1, 1, true, 1)
}
