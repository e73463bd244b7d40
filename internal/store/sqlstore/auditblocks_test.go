package sqlstore

import (
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// A batch whose ids are not in order (no database promises to number rows
// in the order it is given them) still gives one time row per block, with
// every event's time in its block's range, and one posting per block and
// value: PostgreSQL refuses to update a row twice in one statement.
func TestBlockRowsOnePerBlock(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	events := []*chain.Event{
		{Actor: "a", Time: at(10)}, {Actor: "a", Time: at(5)}, {Actor: "b", Time: at(30)}, {Actor: "a", Time: at(20)},
	}
	ids := []int64{511, 512, 510, 513} // blocks 0, 1, 0, 1
	postings, times := blockRows(events, ids)
	want := []TimeBlock{
		{Last: 511, First: 0, MinAt: at(10).UnixMicro(), MaxAt: at(30).UnixMicro()},
		{Last: 1023, First: 512, MinAt: at(5).UnixMicro(), MaxAt: at(20).UnixMicro()},
	}
	if len(times) != len(want) || times[0] != want[0] || times[1] != want[1] {
		t.Errorf("time rows %+v, want %+v", times, want)
	}
	seen := map[Posting]bool{}
	for _, p := range postings {
		if seen[p] {
			t.Errorf("posting %+v twice", p)
		}
		seen[p] = true
	}
	for _, p := range []Posting{{"actor", "a", 511, 0}, {"actor", "b", 511, 0}, {"actor", "a", 1023, 512}} {
		if !seen[p] {
			t.Errorf("posting %+v missing from %+v", p, postings)
		}
	}
	if len(postings) != 3 {
		t.Errorf("%d postings, want 3: %+v", len(postings), postings)
	}
}
