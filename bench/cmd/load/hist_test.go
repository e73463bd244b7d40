package main

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	h := &hist{}
	var vals []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.ExpFloat64() * float64(5*time.Millisecond))
		h.record(d)
		vals = append(vals, d)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.3f: got %v, want %v (%.2f%%)", q, got, want, 100*diff)
		}
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 1 << 20, 1<<63 + 12345} {
		i := histIndex(v)
		if i < 0 || i >= len(h.counts) {
			t.Fatalf("index %d of %d out of range", i, v)
		}
		if v >= 128 {
			if mid := uint64(histValue(i)); float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02 {
				t.Errorf("value %d lands in a bucket around %d", v, mid)
			}
		}
	}
}
