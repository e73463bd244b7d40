package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// wrap prefixes err with the dialect and the operation, and maps it to the
// store sentinels: no rows is store.ErrNotFound, and the dialect classifies
// constraint violations. The driver error stays in the chain.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %s: %w", s.d.Name(), op, store.ErrNotFound)
	}
	if sentinel := s.d.Classify(err); sentinel != nil {
		return fmt.Errorf("%s: %s: %w: %w", s.d.Name(), op, sentinel, err)
	}
	return fmt.Errorf("%s: %s: %w", s.d.Name(), op, err)
}

// errorf is an error of the store's own, prefixed like wrap's.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{s.d.Name()}, args...)...)
}
