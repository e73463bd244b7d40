package main

import (
	"math/bits"
	"time"
)

// hist is a fixed-size log-linear latency histogram (HDR-style): values
// below 128 ns are exact, larger values keep their top 7 significant bits,
// so any recorded latency is off by less than 1/64 (1.6 %). Recording is
// one array increment; workers keep their own and merge at the end.
type hist struct {
	counts [128 + 58*64]uint64
	n      uint64
	max    time.Duration
}

func histIndex(v uint64) int {
	if v < 128 {
		return int(v)
	}
	e := bits.Len64(v) - 7 // ≥ 1
	m := v >> uint(e)      // in [64, 127]
	return 128 + (e-1)*64 + int(m-64)
}

// histValue is the midpoint of bucket i.
func histValue(i int) time.Duration {
	if i < 128 {
		return time.Duration(i)
	}
	e := (i-128)/64 + 1
	m := uint64((i-128)%64 + 64)
	lo := m << uint(e)
	return time.Duration(lo + (uint64(1)<<uint(e))/2)
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency at q (0 < q ≤ 1).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			v := histValue(i)
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}
