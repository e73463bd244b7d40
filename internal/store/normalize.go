package store

import (
	"strings"
	"time"
)

// Limits applied to AuditFilter.Limit by every backend.
const (
	// DefaultAuditLimit is used when AuditFilter.Limit is zero or negative.
	DefaultAuditLimit = 100
	// MaxAuditLimit caps AuditFilter.Limit.
	MaxAuditLimit = 1000
)

// AuditLimit returns the number of rows ListAudit returns for a requested
// limit: DefaultAuditLimit if n <= 0, at most MaxAuditLimit.
func AuditLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultAuditLimit
	case n > MaxAuditLimit:
		return MaxAuditLimit
	default:
		return n
	}
}

// NormalizeEmail returns the stored form of an email address: trimmed of
// surrounding white space and lower-cased. Backends apply it when creating
// users and when looking them up.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// NormalizeTime returns t as the backends store it: in UTC, truncated to
// microseconds. The zero time stays zero (and is stored as NULL).
func NormalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Now returns the system clock's time as the backends store it (see
// NormalizeTime).
//
// Deprecated: the stores take the time from their Options.Clock; use
// NormalizeTime(c.Now()) with the clock you were given.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}
