package store

import (
	"context"
	"time"
)

// MFA method kinds.
const (
	MFATOTP     = "totp"
	MFAWebAuthn = "webauthn"
	MFAYubiKey  = "yubikey"
)

// MFAMethod is one second factor a user enrolled. Which fields are set
// depends on Kind:
//
//   - totp: SecretKeyID and Secret (the base32 secret sealed with the
//     keyring key SecretKeyID; never stored in plaintext) and LastStep,
//     the last time step accepted from any of the user's TOTP methods (all
//     of them carry the same one: a code for a step at or before it, from
//     any of the user's apps, is a replay).
//   - webauthn: CredentialID (unique) and Credential (the credential
//     record: public key, sign counter, flags).
//   - yubikey: PublicID, the key's 12-character modhex public id (unique:
//     one key belongs to one user).
type MFAMethod struct {
	ID           int64
	UserID       int64
	Kind         string
	Name         string // the user's label, e.g. "phone" or "blue key"
	SecretKeyID  string
	Secret       []byte
	PublicID     string
	CredentialID []byte
	Credential   []byte
	LastStep     int64
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero if never used after enrolment
}

// MFAMethods stores users' second factors. A taken WebAuthn credential id
// or YubiKey public id is ErrConflict; a missing user or method is
// ErrNotFound.
type MFAMethods interface {
	// CreateMFAMethod inserts m and sets its ID and CreatedAt (now). A
	// TOTP method's LastStep becomes the user's (the larger of m's and
	// their other TOTP methods').
	CreateMFAMethod(ctx context.Context, m *MFAMethod) error
	// ListMFAMethods lists a user's methods (0 = everyone's), oldest first.
	ListMFAMethods(ctx context.Context, userID int64) ([]MFAMethod, error)
	// GetMFAMethod returns one of the user's methods.
	GetMFAMethod(ctx context.Context, userID, id int64) (*MFAMethod, error)
	// DeleteMFAMethod removes one of the user's methods.
	DeleteMFAMethod(ctx context.Context, userID, id int64) error
	// UseMFAMethod records a successful use at now. With step > 0 (TOTP)
	// it succeeds only if step is after the user's LastStep, atomically,
	// and moves it for all the user's TOTP methods, so that one time step
	// is accepted once per user even from two apps or by replicas racing
	// on one database; a replay is ErrConflict. A non-nil credential replaces the
	// stored WebAuthn credential (its sign counter moved).
	UseMFAMethod(ctx context.Context, id int64, step int64, credential []byte) error
	// ResealMFASecret replaces a method's sealed secret (key rotation).
	ResealMFASecret(ctx context.Context, id int64, keyID string, secret []byte) error
}

// BackupCodes stores the SHA-256 hashes of users' single-use backup codes.
type BackupCodes interface {
	// ReplaceBackupCodes makes hashes the user's only codes, all unused.
	ReplaceBackupCodes(ctx context.Context, userID int64, hashes [][]byte) error
	// UseBackupCode marks the user's unused code with this hash used at
	// now; ErrNotFound if there is none (wrong, or used before). Racing
	// uses of one code: exactly one succeeds.
	UseBackupCode(ctx context.Context, userID int64, hash []byte) error
	// CountBackupCodes returns how many of the user's codes are unused.
	CountBackupCodes(ctx context.Context, userID int64) (int, error)
}

// MFAAccount is a user's MFA bookkeeping: the WebAuthn user handle and the
// lockout state.
type MFAAccount struct {
	UserID int64
	// Handle is the opaque WebAuthn user handle (random, not the email).
	Handle []byte
	// Failures counts failed second-factor attempts since the last
	// success or unlock.
	Failures int
	// LockedAt is when repeated failures locked the user out of MFA
	// (zero: not locked). Only an admin unlocks.
	LockedAt time.Time
}

// MFAAccounts stores MFAAccount rows; a user without one has no handle,
// no failures and is not locked.
type MFAAccounts interface {
	// GetMFAAccount returns the user's account, creating it (with a new
	// handle from newHandle) if it does not exist.
	GetMFAAccount(ctx context.Context, userID int64, newHandle []byte) (*MFAAccount, error)
	// RecordMFAFailure counts one failed attempt, atomically, and locks the
	// user at now when the count reaches lockAfter. It returns the account
	// after the change; ErrNotFound if the user has no account yet
	// (GetMFAAccount creates it).
	RecordMFAFailure(ctx context.Context, userID int64, lockAfter int) (*MFAAccount, error)
	// ResetMFAFailures clears the failure count (after a success); it
	// does not unlock.
	ResetMFAFailures(ctx context.Context, userID int64) error
	// UnlockMFA clears the lock and the failure count.
	UnlockMFA(ctx context.Context, userID int64) error
	// ListLockedMFAAccounts returns the accounts locked out, by user id
	// (an admin's overview of everyone in one read).
	ListLockedMFAAccounts(ctx context.Context) ([]MFAAccount, error)
}

// MFAChallenge is a server-side challenge: WebAuthn ceremony state bound
// to the session it was issued to, or a CLI's request to be verified in a
// browser. Single use; Hash is the SHA-256 of its random id.
type MFAChallenge struct {
	Hash      []byte
	SessionID int64
	Purpose   string // e.g. "webauthn-register", "webauthn-login", "cli-verify"
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// DoneAt is set when a browser completed a cli-verify challenge.
	DoneAt time.Time
}

// MFAChallenges stores challenges until they are used or expire.
type MFAChallenges interface {
	// PutMFAChallenge inserts c and sets CreatedAt (now); ExpiresAt is
	// required.
	PutMFAChallenge(ctx context.Context, c *MFAChallenge) error
	// TakeMFAChallenge deletes and returns the challenge: ErrNotFound if
	// there is none, it belongs to another session or purpose, or it has
	// expired. Racing takes of one challenge: exactly one gets it.
	TakeMFAChallenge(ctx context.Context, hash []byte, sessionID int64, purpose string) (*MFAChallenge, error)
	// PeekMFAChallenge returns an unexpired challenge without using it.
	PeekMFAChallenge(ctx context.Context, hash []byte) (*MFAChallenge, error)
	// CompleteMFAChallenge sets DoneAt (now) on an unexpired challenge not
	// completed before; ErrNotFound otherwise.
	CompleteMFAChallenge(ctx context.Context, hash []byte) error
	// DeleteExpiredMFAChallenges removes challenges expired before now.
	DeleteExpiredMFAChallenges(ctx context.Context) (int64, error)
}

// TrustedDevice is a browser a user chose to trust: it skips the sign-in
// second factor (never step-up) until ExpiresAt. Only the SHA-256 of the
// cookie's token is stored.
type TrustedDevice struct {
	ID         int64
	Hash       []byte
	UserID     int64
	UserAgent  string
	SourceIP   string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// TrustedDevices stores trusted browsers. A taken hash is ErrConflict.
// Lookups do not check expiry or revocation.
type TrustedDevices interface {
	// CreateTrustedDevice inserts d and sets ID and CreatedAt (now).
	CreateTrustedDevice(ctx context.Context, d *TrustedDevice) error
	GetTrustedDeviceByHash(ctx context.Context, hash []byte) (*TrustedDevice, error)
	// ListTrustedDevices lists a user's devices, newest first.
	ListTrustedDevices(ctx context.Context, userID int64) ([]TrustedDevice, error)
	// TouchTrustedDevice records a use at now.
	TouchTrustedDevice(ctx context.Context, id int64) error
	// RevokeTrustedDevice revokes one of the user's devices at now.
	RevokeTrustedDevice(ctx context.Context, userID, id int64) error
	// RevokeUserTrustedDevices revokes every active device of the user at
	// now and returns how many.
	RevokeUserTrustedDevices(ctx context.Context, userID int64) (int64, error)
}

// MFA is everything the MFA service stores.
type MFA interface {
	MFAMethods
	BackupCodes
	MFAAccounts
	MFAChallenges
	TrustedDevices
	// SetSessionMFA records that the session proved a second factor
	// (method) at at.
	SetSessionMFA(ctx context.Context, sessionID int64, method string, at time.Time) error
	// ResetUserMFA removes every method, backup code and trusted device of
	// the user and unlocks it (an admin's reset for a lost device).
	ResetUserMFA(ctx context.Context, userID int64) error
}
