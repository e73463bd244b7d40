package sqlstore

import (
	"context"
	"database/sql"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectMFAMethod = `SELECT id, user_id, kind, name, secret_key_id, secret, public_id, credential_id, credential,
	last_step, created_at, last_used_at FROM mfa_methods`

func (s *Store) scanMFAMethod(sc scanner) (store.MFAMethod, error) {
	var m store.MFAMethod
	var publicID sql.NullString
	err := sc.Scan(&m.ID, &m.UserID, &m.Kind, &m.Name, &m.SecretKeyID, &m.Secret, &publicID, &m.CredentialID, &m.Credential,
		&m.LastStep, s.td(&m.CreatedAt), s.td(&m.LastUsedAt))
	m.PublicID = publicID.String
	return m, err
}

// nullText encodes an optional unique text: "" is NULL, so that the
// unique index ignores it.
func nullText(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// nullBytes encodes an optional unique blob: empty is NULL.
func nullBytes(v []byte) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// CreateMFAMethod implements store.MFAMethods.
func (s *Store) CreateMFAMethod(ctx context.Context, m *store.MFAMethod) error {
	if m.Kind == "" {
		return s.errorf("create mfa method: kind is required")
	}
	now := s.now()
	m.LastUsedAt = store.NormalizeTime(m.LastUsedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO mfa_methods (user_id, kind, name, secret_key_id, secret, public_id,
			credential_id, credential, last_step, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			m.UserID, m.Kind, m.Name, m.SecretKeyID, nullBytes(m.Secret), nullText(m.PublicID), nullBytes(m.CredentialID),
			nullBytes(m.Credential), m.LastStep, s.t(now), s.t(m.LastUsedAt),
		).Scan(&m.ID)
		if err != nil || m.Kind != store.MFATOTP {
			return err
		}
		// The user's TOTP methods share one last step (store.MFAMethod).
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE mfa_methods SET last_step = (
			SELECT MAX(o.last_step) FROM mfa_methods o WHERE o.user_id = ? AND o.kind = 'totp'
			) WHERE user_id = ? AND kind = 'totp'`), m.UserID, m.UserID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT last_step FROM mfa_methods WHERE id = ?`), m.ID).Scan(&m.LastStep)
	})
	if err != nil {
		return s.wrap("create mfa method", err)
	}
	m.CreatedAt = now
	return nil
}

// ListMFAMethods implements store.MFAMethods.
func (s *Store) ListMFAMethods(ctx context.Context, userID int64) ([]store.MFAMethod, error) {
	q, args := selectMFAMethod+` ORDER BY id`, []any(nil)
	if userID != 0 {
		q, args = selectMFAMethod+` WHERE user_id = ? ORDER BY id`, []any{userID}
	}
	out, err := list(ctx, s, s.write, q, args, s.scanMFAMethod)
	return out, s.wrap("list mfa methods", err)
}

// GetMFAMethod implements store.MFAMethods.
func (s *Store) GetMFAMethod(ctx context.Context, userID, id int64) (*store.MFAMethod, error) {
	m, err := s.scanMFAMethod(s.write.QueryRowContext(ctx, s.q(selectMFAMethod+` WHERE id = ? AND user_id = ?`), id, userID))
	if err != nil {
		return nil, s.wrap("get mfa method", err)
	}
	return &m, nil
}

// DeleteMFAMethod implements store.MFAMethods.
func (s *Store) DeleteMFAMethod(ctx context.Context, userID, id int64) error {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM mfa_methods WHERE id = ? AND user_id = ?`), id, userID)
	return s.wrap("delete mfa method", mustAffect(res, err))
}

// UseMFAMethod implements store.MFAMethods. The step condition is in the
// UPDATE itself, which moves the step of every TOTP method of the user at
// once, so the database decides which of two racing uses of one time step
// wins, whichever of the user's apps made the codes (PostgreSQL re-checks
// "last_step < step" on each row after waiting for the other's lock).
func (s *Store) UseMFAMethod(ctx context.Context, id int64, step int64, credential []byte) error {
	var res sql.Result
	var err error
	now := s.t(s.now())
	switch {
	case step > 0:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE mfa_methods
			SET last_step = ?, last_used_at = CASE WHEN id = ? THEN ? ELSE last_used_at END
			WHERE kind = 'totp' AND user_id = (SELECT o.user_id FROM mfa_methods o WHERE o.id = ?) AND last_step < ?`),
			step, id, now, id, step)
	case credential != nil:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE mfa_methods SET credential = ?, last_used_at = ? WHERE id = ?`),
			credential, now, id)
	default:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE mfa_methods SET last_used_at = ? WHERE id = ?`), now, id)
	}
	if err := mustAffect(res, err); err == sql.ErrNoRows && step > 0 {
		// The method exists (or not): tell a replay from a missing row.
		var one int
		if err := s.write.QueryRowContext(ctx, s.q(`SELECT 1 FROM mfa_methods WHERE id = ?`), id).Scan(&one); err != nil {
			return s.wrap("use mfa method", err)
		}
		return s.wrap("use mfa method", store.ErrConflict)
	} else if err != nil {
		return s.wrap("use mfa method", err)
	}
	return nil
}

// ResealMFASecret implements store.MFAMethods.
func (s *Store) ResealMFASecret(ctx context.Context, id int64, keyID string, secret []byte) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE mfa_methods SET secret_key_id = ?, secret = ? WHERE id = ?`),
		keyID, secret, id)
	return s.wrap("reseal mfa secret", mustAffect(res, err))
}

// ReplaceBackupCodes implements store.BackupCodes.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID int64, hashes [][]byte) error {
	now := s.t(s.now())
	return s.wrap("replace backup codes", s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM users WHERE id = ?`), userID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_backup_codes WHERE user_id = ?`), userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mfa_backup_codes (user_id, hash, created_at) VALUES (?, ?, ?)`),
				userID, h, now); err != nil {
				return err
			}
		}
		return nil
	}))
}

// UseBackupCode implements store.BackupCodes.
func (s *Store) UseBackupCode(ctx context.Context, userID int64, hash []byte) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE mfa_backup_codes SET used_at = ?
		WHERE user_id = ? AND hash = ? AND used_at IS NULL`), s.t(s.now()), userID, hash)
	return s.wrap("use backup code", mustAffect(res, err))
}

// CountBackupCodes implements store.BackupCodes.
func (s *Store) CountBackupCodes(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.write.QueryRowContext(ctx, s.q(`SELECT count(*) FROM mfa_backup_codes WHERE user_id = ? AND used_at IS NULL`),
		userID).Scan(&n)
	return n, s.wrap("count backup codes", err)
}

const selectMFAAccount = `SELECT user_id, handle, failures, locked_at FROM mfa_accounts`

func (s *Store) scanMFAAccount(sc scanner) (*store.MFAAccount, error) {
	var a store.MFAAccount
	err := sc.Scan(&a.UserID, &a.Handle, &a.Failures, s.td(&a.LockedAt))
	return &a, err
}

// GetMFAAccount implements store.MFAAccounts.
func (s *Store) GetMFAAccount(ctx context.Context, userID int64, newHandle []byte) (*store.MFAAccount, error) {
	if len(newHandle) == 0 {
		return nil, s.errorf("get mfa account: a new handle is required")
	}
	if _, err := s.write.ExecContext(ctx, s.q(`INSERT INTO mfa_accounts (user_id, handle) VALUES (?, ?)
		ON CONFLICT (user_id) DO NOTHING`), userID, newHandle); err != nil {
		return nil, s.wrap("get mfa account", err)
	}
	a, err := s.scanMFAAccount(s.write.QueryRowContext(ctx, s.q(selectMFAAccount+` WHERE user_id = ?`), userID))
	if err != nil {
		return nil, s.wrap("get mfa account", err)
	}
	return a, nil
}

// RecordMFAFailure implements store.MFAAccounts. One UPDATE counts and
// locks, so racing failures cannot both stay under the limit.
func (s *Store) RecordMFAFailure(ctx context.Context, userID int64, lockAfter int) (*store.MFAAccount, error) {
	a, err := s.scanMFAAccount(s.write.QueryRowContext(ctx, s.q(`UPDATE mfa_accounts SET failures = failures + 1,
		locked_at = CASE WHEN locked_at IS NULL AND failures + 1 >= ? THEN ? ELSE locked_at END
		WHERE user_id = ? RETURNING user_id, handle, failures, locked_at`), lockAfter, s.t(s.now()), userID))
	if err != nil {
		return nil, s.wrap("record mfa failure", err)
	}
	return a, nil
}

// ResetMFAFailures implements store.MFAAccounts.
func (s *Store) ResetMFAFailures(ctx context.Context, userID int64) error {
	_, err := s.write.ExecContext(ctx, s.q(`UPDATE mfa_accounts SET failures = 0 WHERE user_id = ? AND failures <> 0`), userID)
	return s.wrap("reset mfa failures", err)
}

// UnlockMFA implements store.MFAAccounts.
func (s *Store) UnlockMFA(ctx context.Context, userID int64) error {
	_, err := s.write.ExecContext(ctx, s.q(`UPDATE mfa_accounts SET failures = 0, locked_at = NULL WHERE user_id = ?`), userID)
	return s.wrap("unlock mfa", err)
}

// ListLockedMFAAccounts implements store.MFAAccounts.
func (s *Store) ListLockedMFAAccounts(ctx context.Context) ([]store.MFAAccount, error) {
	out, err := list(ctx, s, s.write, selectMFAAccount+` WHERE locked_at IS NOT NULL ORDER BY user_id`, nil,
		func(sc scanner) (store.MFAAccount, error) {
			a, err := s.scanMFAAccount(sc)
			if err != nil {
				return store.MFAAccount{}, err
			}
			return *a, nil
		})
	return out, s.wrap("list locked mfa accounts", err)
}

// ResetUserMFA implements store.MFA.
func (s *Store) ResetUserMFA(ctx context.Context, userID int64) error {
	now := s.t(s.now())
	return s.wrap("reset user mfa", s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM users WHERE id = ?`), userID).Scan(&one); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM mfa_methods WHERE user_id = ?`,
			`DELETE FROM mfa_backup_codes WHERE user_id = ?`,
			`UPDATE mfa_accounts SET failures = 0, locked_at = NULL WHERE user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), userID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE trusted_devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`),
			now, userID)
		return err
	}))
}
