package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SQLSTATE codes mapped to store sentinels.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// wrap prefixes err with the operation and maps PostgreSQL errors to the
// store sentinels: missing rows and foreign-key violations (a referenced
// user that does not exist) to store.ErrNotFound, unique violations to
// store.ErrConflict. The driver error stays in the chain.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrConflict, err)
		case foreignKeyViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrNotFound, err)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// encTime encodes t for a timestamptz parameter: NULL if zero, else t in UTC
// truncated to microseconds.
func encTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.NormalizeTime(t)
}

// decTime returns a scanned timestamptz in UTC, or the zero time for NULL.
func decTime(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}

// encID encodes an optional foreign key: 0 is stored as NULL.
func encID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
