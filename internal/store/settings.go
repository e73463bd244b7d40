package store

import "context"

// Settings is a small key/value table for the gateway's own state. Keys
// are case-sensitive; the empty string is a value, not "unset".
type Settings interface {
	// GetSetting returns the value under key; ErrNotFound if unset.
	GetSetting(ctx context.Context, key string) (string, error)
	// SetSetting stores value under key, replacing any previous value.
	SetSetting(ctx context.Context, key, value string) error
}
