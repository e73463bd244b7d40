// Package timefmt is the one date format of the console, the CLI and the
// filters people type: times are shown in UTC, RFC 3339 to the second
// (2026-12-05T10:00:00Z), and the time filters of the audit explorer and
// of `rack-gateway audit` accept the same forms:
//
//	2026-12-05                 the whole UTC day (from 00:00, to the next day's 00:00)
//	2026-12-05T10:00           a minute, UTC (what a datetime-local input sends)
//	2026-12-05T10:00:00        a second, UTC
//	2026-12-05T10:00:00Z       RFC 3339, with Z or an offset (+02:00), fractions allowed
//
// The admin API keeps RFC 3339 with fractions (encoding/json); that is for
// programs, this is for people.
package timefmt

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Layout is the display layout: UTC, to the second.
const Layout = "2006-01-02T15:04:05Z"

// Display shows t in UTC to the second ("" for the zero time).
func Display(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(Layout)
}

// Forms names the accepted filter forms, for usage texts and errors.
const Forms = "YYYY-MM-DD (a whole UTC day), YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS (UTC), or RFC 3339 with Z or an offset"

const dateLayout = "2006-01-02"

// maxLen bounds what is parsed (and echoed in errors).
const maxLen = 40

// ParseBound reads one bound. A date alone is the start of that UTC day,
// or, with end set (an exclusive upper bound), the start of the next day,
// so that "until 2026-12-05" includes all of the 5th. Other forms are the
// instant they name, whatever end says. "" is the zero time (no bound).
func ParseBound(s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) > maxLen {
		return time.Time{}, fmt.Errorf("%q… is not a date or time; use %s", s[:maxLen], Forms)
	}
	if t, err := time.Parse(dateLayout, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or time; use %s", s, Forms)
}

// ParseRange reads a from/to pair as the half-open range [since, until):
// from with ParseBound(from, false), to with ParseBound(to, true). Either
// may be empty (unbounded). A range that ends before it starts, or is
// empty, is an error naming both.
func ParseRange(from, to string) (since, until time.Time, err error) {
	var errs []error
	if since, err = ParseBound(from, false); err != nil {
		errs = append(errs, fmt.Errorf("from: %w", err))
	}
	if until, err = ParseBound(to, true); err != nil {
		errs = append(errs, fmt.Errorf("to: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return time.Time{}, time.Time{}, fmt.Errorf("the range from %s to %s is empty: the end must come after the start",
			Display(since), Display(until))
	}
	return since, until, nil
}
