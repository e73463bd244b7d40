package server

import (
	"strings"
	"testing"
	"time"
)

// The CLI's audit export takes the console explorer's time forms, plus a
// duration ago.
func TestParseRange(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		since, until string
		from, to     time.Time
		err          string
	}{
		{"", "", time.Time{}, time.Time{}, ""},
		{"2026-12-05", "2026-12-05", day, day.AddDate(0, 0, 1), ""},
		{"2026-12-05T10:00", "2026-12-05T11:00:00Z", day.Add(10 * time.Hour), day.Add(11 * time.Hour), ""},
		{"2026-12-05T12:00:00+02:00", "", day.Add(10 * time.Hour), time.Time{}, ""},
		{"24h", "1h", now.Add(-24 * time.Hour), now.Add(-time.Hour), ""},
		{"yesterday", "", time.Time{}, time.Time{}, "YYYY-MM-DD"},
		{"2026-12-06", "2026-12-05", time.Time{}, time.Time{}, "empty"},
		{"-5h", "", time.Time{}, time.Time{}, "--since/--until"},
	} {
		from, to, err := parseRange(tc.since, tc.until, now)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseRange(%q, %q): %v, want %q", tc.since, tc.until, err, tc.err)
			}
			continue
		}
		if err != nil || !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("parseRange(%q, %q) = %v, %v, %v; want %v, %v", tc.since, tc.until, from, to, err, tc.from, tc.to)
		}
	}
}
