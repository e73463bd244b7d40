package timefmt

import (
	"strings"
	"testing"
	"time"
)

func TestDisplay(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), "2026-12-05T10:00:00Z"},
		{time.Date(2026, 12, 5, 11, 0, 0, 0, paris), "2026-12-05T10:00:00Z"},
		{time.Date(2026, 12, 5, 10, 0, 59, 999_999_999, time.UTC), "2026-12-05T10:00:59Z"}, // truncated, not rounded
		{time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600)), "2027-01-01T00:30:00Z"},
	} {
		if got := Display(tc.in); got != tc.want {
			t.Errorf("Display(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseBound(t *testing.T) {
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	ten := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		end  bool
		want time.Time
	}{
		{"", false, time.Time{}},
		{"  ", true, time.Time{}},
		{"2026-12-05", false, day},
		{"2026-12-05", true, day.AddDate(0, 0, 1)},
		{"2026-12-31", true, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12-05T10:00", false, ten},
		{"2026-12-05T10:00", true, ten}, // only a date widens
		{"2026-12-05T10:00:00", false, ten},
		{"2026-12-05T10:00:00Z", true, ten},
		{"2026-12-05T12:00:00+02:00", false, ten},
		{"2026-12-05T10:00:00.5Z", false, ten.Add(500 * time.Millisecond)},
		{" 2026-12-05T10:00:00Z ", false, ten},
	} {
		got, err := ParseBound(tc.in, tc.end)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseBound(%q, %v) = %v, %v; want %v", tc.in, tc.end, got, err, tc.want)
		}
		if err == nil && !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("ParseBound(%q) location %v, want UTC", tc.in, got.Location())
		}
	}
}

func TestParseBoundRejects(t *testing.T) {
	for _, in := range []string{
		"yesterday", "24h", "2026-13-01", "2026-12-32", "12/05/2026", "2026-12-05 10:00", "2026-12-05T10",
		"2026-12-05T25:00", "1733392800", "2026-12-05T10:00:00+25:00", strings.Repeat("2", 200),
	} {
		_, err := ParseBound(in, false)
		if err == nil {
			t.Errorf("ParseBound(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ParseBound(%q) error %q does not name the forms", in, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("ParseBound of a long input: error of %d bytes echoes it", len(err.Error()))
		}
	}
}

func TestParseRange(t *testing.T) {
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to     string
		since, until time.Time
		err          string
	}{
		{"", "", time.Time{}, time.Time{}, ""},
		{"2026-12-05", "2026-12-05", day, day.AddDate(0, 0, 1), ""}, // one whole day
		{"2026-12-05", "", day, time.Time{}, ""},
		{"", "2026-12-05", time.Time{}, day.AddDate(0, 0, 1), ""},
		{"2026-12-05T10:00", "2026-12-05T11:00:00Z", day.Add(10 * time.Hour), day.Add(11 * time.Hour), ""},
		{"2026-12-06", "2026-12-05", time.Time{}, time.Time{}, "empty"},
		{"2026-12-05T10:00", "2026-12-05T10:00", time.Time{}, time.Time{}, "empty"},
		{"nope", "2026-12-05", time.Time{}, time.Time{}, "from:"},
		{"2026-12-05", "later", time.Time{}, time.Time{}, "to:"},
	} {
		since, until, err := ParseRange(tc.from, tc.to)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRange(%q, %q) error %v, want %q", tc.from, tc.to, err, tc.err)
			}
			continue
		}
		if err != nil || !since.Equal(tc.since) || !until.Equal(tc.until) {
			t.Errorf("ParseRange(%q, %q) = %v, %v, %v; want %v, %v", tc.from, tc.to, since, until, err, tc.since, tc.until)
		}
	}
}

// Display's output is accepted back by ParseBound: what people copy from a
// page works as a filter.
func TestDisplayRoundTrip(t *testing.T) {
	in := time.Date(2026, 12, 5, 10, 11, 12, 0, time.UTC)
	got, err := ParseBound(Display(in), false)
	if err != nil || !got.Equal(in) {
		t.Fatalf("ParseBound(Display) = %v, %v", got, err)
	}
}
