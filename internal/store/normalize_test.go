package store

import (
	"testing"
	"time"
)

func TestAuditLimit(t *testing.T) {
	for _, tt := range []struct{ in, want int }{
		{-5, DefaultAuditLimit}, {0, DefaultAuditLimit}, {1, 1}, {100, 100},
		{MaxAuditLimit, MaxAuditLimit}, {MaxAuditLimit + 1, MaxAuditLimit}, {1 << 40, MaxAuditLimit},
	} {
		if got := AuditLimit(tt.in); got != tt.want {
			t.Errorf("AuditLimit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	if got := NormalizeEmail("  Alice@Example.COM\t"); got != "alice@example.com" {
		t.Errorf("NormalizeEmail = %q", got)
	}
}

func TestNormalizeTime(t *testing.T) {
	if got := NormalizeTime(time.Time{}); !got.IsZero() {
		t.Errorf("NormalizeTime(zero) = %v", got)
	}
	in := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", -7*3600))
	got := NormalizeTime(in)
	if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("NormalizeTime(%v) = %v", in, got)
	}
	if n := Now(); n.Location() != time.UTC || n.Nanosecond()%1000 != 0 {
		t.Errorf("Now() = %v", n)
	}
}
