package sqlstore

import "context"

// GetSetting implements store.Settings.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.read.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v); err != nil {
		return "", s.wrap("get setting "+key, err)
	}
	return v, nil
}

// SetSetting implements store.Settings.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
	return s.wrap("set setting "+key, err)
}
