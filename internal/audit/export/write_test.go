package export

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// memLog is a Source over events in memory, oldest first (Seq order).
type memLog struct {
	events  []chain.Event
	scanned int64 // the fromSeq of the last ScanAudit
}

func (m *memLog) ListAudit(context.Context, store.AuditFilter) ([]chain.Event, error) {
	return nil, nil
}

func (m *memLog) AuditHead(context.Context) (int64, []byte, error) {
	if len(m.events) == 0 {
		return 0, nil, nil
	}
	e := m.events[len(m.events)-1]
	return e.Seq, e.Hash, nil
}

func (m *memLog) ScanAudit(_ context.Context, from int64, fn func(*chain.Event) error) error {
	m.scanned = from
	for i := range m.events {
		if m.events[i].Seq < from {
			continue
		}
		e := m.events[i]
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func (m *memLog) ListCheckpoints(_ context.Context, from int64) ([]store.Checkpoint, error) {
	var out []store.Checkpoint
	for seq := int64(10); seq <= int64(len(m.events)); seq += 10 {
		if seq >= from {
			out = append(out, store.Checkpoint{Seq: seq, Statement: "cp"})
		}
	}
	return out, nil
}

// seekingLog is a memLog that can seek, with a floor that is exact or,
// with slack, that many seqs lower (as SQLite's time blocks may be).
type seekingLog struct {
	*memLog
	slack int64
}

func (s seekingLog) AuditSeqFloor(_ context.Context, since, until time.Time) (int64, error) {
	for _, e := range s.events {
		if !e.Time.Before(since) && (until.IsZero() || e.Time.Before(until)) {
			return max(e.Seq-s.slack, 0), nil
		}
	}
	return int64(len(s.events)) + 1, nil
}

// A time-bounded export that seeks to the range (store.AuditSeeker) writes
// the same bytes as one that scans from the first event, for JSONL slices
// and CSV, whatever the floor's slack; and it does start near the range.
func TestWriteSeeksToTheRange(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h chain.Hasher
	prev := chain.Genesis()
	log := &memLog{}
	// 60 events a minute apart; seq 25 is stamped in minute 40 and seq 45
	// in minute 5 (replicas' clocks).
	for i := 1; i <= 60; i++ {
		e := chain.Event{Seq: int64(i), Time: base.Add(time.Duration(i) * time.Minute), Actor: "a", Action: "AppList", Decision: "allow"}
		switch i {
		case 25:
			e.Time = base.Add(40 * time.Minute)
		case 45:
			e.Time = base.Add(5 * time.Minute)
		}
		e.Hash = h.Next(prev, &e)
		prev = e.Hash
		log.events = append(log.events, e)
	}
	minute := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	exportedAt := regexp.MustCompile(`"exported_at":"[^"]*"`)
	for _, tc := range []struct {
		name         string
		since, until time.Time
		wantScanFrom int64 // with an exact floor
	}{
		{"minutes 30-35", minute(30), minute(35), 29},
		{"minutes 38-50 (seq 25 is in it)", minute(38), minute(50), 24},
		{"minutes 4-6 (seq 45 is in it)", minute(4), minute(6), 3},
		{"from minute 50, no end", minute(50), time.Time{}, 49},
		{"from the start", minute(0), minute(3), 0},
		{"after the log", minute(100), time.Time{}, 60},
		{"no since", time.Time{}, minute(10), 0},
	} {
		for _, format := range []string{"jsonl", "csv"} {
			o := Options{Format: format, Since: tc.since, Until: tc.until}
			var want bytes.Buffer
			if err := Write(t.Context(), log, &want, o); err != nil {
				t.Fatal(err)
			}
			for _, slack := range []int64{0, 3, 100} {
				var got bytes.Buffer
				if err := Write(t.Context(), seekingLog{log, slack}, &got, o); err != nil {
					t.Fatal(err)
				}
				if g, w := exportedAt.ReplaceAll(got.Bytes(), nil), exportedAt.ReplaceAll(want.Bytes(), nil); !bytes.Equal(g, w) {
					t.Errorf("%s, %s, slack %d: seeking export differs:\n%s\nwant\n%s", tc.name, format, slack, g, w)
				}
				if slack == 0 && log.scanned != tc.wantScanFrom {
					t.Errorf("%s, %s: scanned from seq %d, want %d", tc.name, format, log.scanned, tc.wantScanFrom)
				}
			}
		}
	}
}
