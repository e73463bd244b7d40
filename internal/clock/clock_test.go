package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(t0)
	if !f.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", f.Now(), t0)
	}
	if got := f.Advance(90 * time.Second); !got.Equal(t0.Add(90*time.Second)) || !f.Now().Equal(got) {
		t.Fatalf("Advance: %v / %v", got, f.Now())
	}
	f.Set(t0)
	if !f.Now().Equal(t0) {
		t.Fatalf("Set: %v", f.Now())
	}
}

func TestOr(t *testing.T) {
	if _, ok := Or(nil).(Real); !ok {
		t.Fatal("Or(nil) is not the real clock")
	}
	f := NewFake(time.Unix(0, 0))
	if Or(f) != Clock(f) {
		t.Fatal("Or(f) is not f")
	}
}
