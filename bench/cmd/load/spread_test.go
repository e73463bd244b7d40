package main

import (
	"testing"
	"time"
)

func TestRoundSpread(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gw, bare []float64
		want     string
	}{
		{"one round says nothing", []float64{90}, []float64{100}, ""},
		{"even count: median of the middle two", []float64{90, 100, 80, 95}, []float64{100, 100, 100, 100},
			"; per round 0.80–1.00, median 0.93, over 4 rounds"},
		{"odd count", []float64{45, 100, 120}, []float64{50, 100, 100},
			"; per round 0.90–1.20, median 1.00, over 3 rounds"},
		{"rounds pair by index, extra rounds ignored", []float64{50, 60, 70}, []float64{100, 100},
			"; per round 0.50–0.60, median 0.55, over 2 rounds"},
		{"a failed baseline round is left out", []float64{50, 60, 70}, []float64{100, 0, 100},
			"; per round 0.50–0.70, median 0.60, over 2 rounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundSpread(result{perRound: tc.gw}, result{perRound: tc.bare})
			if got != tc.want {
				t.Errorf("roundSpread = %q, want %q", got, tc.want)
			}
		})
	}
}

// add keeps every round's rate in order, so that roundSpread can pair them.
func TestResultAddKeepsRounds(t *testing.T) {
	var r result
	for _, rate := range []float64{10, 20, 30} {
		r.add(result{ran: true, rate: rate, h: &hist{}, elapsed: 1e9})
	}
	if len(r.perRound) != 3 || r.perRound[0] != 10 || r.perRound[2] != 30 {
		t.Fatalf("perRound = %v, want [10 20 30]", r.perRound)
	}
}

// Uploads have no latency histogram: their rounds add up bytes and time.
func TestResultAddUploads(t *testing.T) {
	var r result
	r.add(result{ran: true, unit: "MB/s", rate: 1000, ops: 1e9, elapsed: time.Second})
	r.add(result{ran: true, unit: "MB/s", rate: 500, ops: 1e9, elapsed: 2 * time.Second})
	if r.ops != 2e9 || r.elapsed != 3*time.Second {
		t.Fatalf("ops %d elapsed %s, want 2e9 bytes in 3s", r.ops, r.elapsed)
	}
	if want := 2e9 / 1e6 / 3; r.rate < want-0.01 || r.rate > want+0.01 {
		t.Errorf("rate %.2f MB/s, want %.2f", r.rate, want)
	}
	if r.note != "2 uploads, 1.50s each" {
		t.Errorf("note %q", r.note)
	}
	if len(r.perRound) != 2 || r.perRound[1] != 500 {
		t.Errorf("perRound %v, want [1000 500]", r.perRound)
	}
}
