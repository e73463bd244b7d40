package sqlstore

import (
	"context"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectTrustedDevice = `SELECT id, hash, user_id, user_agent, source_ip, created_at, last_used_at, expires_at,
	revoked_at FROM trusted_devices`

func (s *Store) scanTrustedDevice(sc scanner) (store.TrustedDevice, error) {
	var d store.TrustedDevice
	err := sc.Scan(&d.ID, &d.Hash, &d.UserID, &d.UserAgent, &d.SourceIP, s.td(&d.CreatedAt), s.td(&d.LastUsedAt),
		s.td(&d.ExpiresAt), s.td(&d.RevokedAt))
	return d, err
}

// CreateTrustedDevice implements store.TrustedDevices.
func (s *Store) CreateTrustedDevice(ctx context.Context, d *store.TrustedDevice) error {
	if len(d.Hash) == 0 || d.ExpiresAt.IsZero() {
		return s.errorf("create trusted device: hash and expiry are required")
	}
	now := s.now()
	d.ExpiresAt = store.NormalizeTime(d.ExpiresAt)
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO trusted_devices (hash, user_id, user_agent, source_ip, created_at,
		expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), d.Hash, d.UserID, d.UserAgent, d.SourceIP, s.t(now),
		s.t(d.ExpiresAt)).Scan(&d.ID)
	if err != nil {
		return s.wrap("create trusted device", err)
	}
	d.CreatedAt = now
	return nil
}

// GetTrustedDeviceByHash implements store.TrustedDevices.
func (s *Store) GetTrustedDeviceByHash(ctx context.Context, hash []byte) (*store.TrustedDevice, error) {
	d, err := s.scanTrustedDevice(s.write.QueryRowContext(ctx, s.q(selectTrustedDevice+` WHERE hash = ?`), hash))
	if err != nil {
		return nil, s.wrap("get trusted device", err)
	}
	return &d, nil
}

// ListTrustedDevices implements store.TrustedDevices.
func (s *Store) ListTrustedDevices(ctx context.Context, userID int64) ([]store.TrustedDevice, error) {
	out, err := list(ctx, s, s.write, selectTrustedDevice+` WHERE user_id = ? ORDER BY id DESC`, []any{userID}, s.scanTrustedDevice)
	return out, s.wrap("list trusted devices", err)
}

// TouchTrustedDevice implements store.TrustedDevices.
func (s *Store) TouchTrustedDevice(ctx context.Context, id int64) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE trusted_devices SET last_used_at = ? WHERE id = ?`), s.t(s.now()), id)
	return s.wrap("touch trusted device", mustAffect(res, err))
}

// RevokeTrustedDevice implements store.TrustedDevices.
func (s *Store) RevokeTrustedDevice(ctx context.Context, userID, id int64) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE trusted_devices SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? AND user_id = ?`), s.t(s.now()), id, userID)
	return s.wrap("revoke trusted device", mustAffect(res, err))
}

// RevokeUserTrustedDevices implements store.TrustedDevices.
func (s *Store) RevokeUserTrustedDevices(ctx context.Context, userID int64) (int64, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE trusted_devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`),
		s.t(s.now()), userID)
	if err != nil {
		return 0, s.wrap("revoke user trusted devices", err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap("revoke user trusted devices", err)
}
