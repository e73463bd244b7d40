package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// checkChain scans the whole chain and checks it has want events with
// sequence numbers 1..want in storage order, each hash recomputed from the
// previous one, and that AuditHead names the last.
func checkChain(t *testing.T, s store.Store, want int) {
	t.Helper()
	var (
		h     chain.Hasher
		prev  = chain.Genesis()
		n     int64
		lastI int64
	)
	err := s.ScanAudit(ctx(t), 1, func(e *chain.Event) error {
		n++
		if e.Seq != n {
			return fmt.Errorf("event id %d has seq %d, want %d", e.ID, e.Seq, n)
		}
		if e.ID <= lastI {
			return fmt.Errorf("scan not in ID order: %d after %d", e.ID, lastI)
		}
		lastI = e.ID
		if got := h.Next(prev, e); !bytes.Equal(got, e.Hash) {
			return fmt.Errorf("seq %d: stored hash %x, recomputed %x", e.Seq, e.Hash, got)
		}
		prev = bytes.Clone(e.Hash)
		return nil
	})
	must(t, "scan", err)
	if n != int64(want) {
		t.Fatalf("chain has %d events, want %d", n, want)
	}
	seq, hash, err := s.AuditHead(ctx(t))
	must(t, "head", err)
	if seq != n || (n > 0 && !bytes.Equal(hash, prev)) {
		t.Fatalf("head = %d %x, want %d %x", seq, hash, n, prev)
	}
}

func testAuditChain(t *testing.T, s store.Store, clk *clock.Fake) {
	seq, hash, err := s.AuditHead(ctx(t))
	must(t, "empty head", err)
	if seq != 0 || hash != nil {
		t.Fatalf("empty chain head = %d %x", seq, hash)
	}
	checkChain(t, s, 0)
	total := 0
	for _, n := range []int{1, 3, 130, 7} { // 130 spans the SQLite chunk sizes
		batch := make([]*chain.Event, n)
		for i := range batch {
			batch[i] = fullEvent(total + i)
		}
		must(t, "append", s.AppendAudit(ctx(t), batch))
		for i, e := range batch {
			if e.Seq != int64(total+i+1) || len(e.Hash) != chain.HashSize {
				t.Fatalf("appended event got seq %d hash %x, want seq %d", e.Seq, e.Hash, total+i+1)
			}
		}
		total += n
	}
	checkChain(t, s, total)

	// ScanAudit from the middle, and an error from fn stops it.
	var first int64
	stop := errors.New("stop")
	err = s.ScanAudit(ctx(t), 100, func(e *chain.Event) error {
		first = e.Seq
		return stop
	})
	if !errors.Is(err, stop) || first != 100 {
		t.Fatalf("ScanAudit(100) = %v, first seq %d", err, first)
	}
	// A log longer than a scan reads in one query: every event once, in
	// order, whole or from a seq in a later page.
	for range 2 {
		batch := make([]*chain.Event, 6000)
		for i := range batch {
			batch[i] = fullEvent(total + i)
		}
		must(t, "append", s.AppendAudit(ctx(t), batch))
		total += len(batch)
	}
	checkChain(t, s, total)
	from, want := int64(total-5050), int64(total)
	must(t, "scan", s.ScanAudit(ctx(t), from, func(e *chain.Event) error {
		if e.Seq != from {
			return fmt.Errorf("scan from %d: seq %d, want %d", total-5050, e.Seq, from)
		}
		from++
		return nil
	}))
	if from != want+1 {
		t.Fatalf("scan from %d ended before seq %d, want after %d", total-5050, from, want)
	}
	// The chain commits to content: the same event at another seq hashes
	// differently.
	a, b := *fullEvent(1), *fullEvent(1)
	b.Seq = 1
	var h chain.Hasher
	if bytes.Equal(h.Next(chain.Genesis(), &a), h.Next(chain.Genesis(), &b)) {
		t.Fatal("seq not covered by the hash")
	}
}

func testCheckpoints(t *testing.T, s store.Store, clk *clock.Fake) {
	// No events: make sees an empty head and may decline.
	c, err := s.AddCheckpoint(ctx(t), func(prev *store.Checkpoint, seq int64, hash []byte) (*store.Checkpoint, error) {
		if prev != nil || seq != 0 || hash != nil {
			t.Errorf("empty store: prev %v head %d %x", prev, seq, hash)
		}
		return nil, nil
	})
	if err != nil || c != nil {
		t.Fatalf("declined checkpoint = %v, %v", c, err)
	}
	batch := []*chain.Event{fullEvent(0), fullEvent(1)}
	must(t, "append", s.AppendAudit(ctx(t), batch))
	mk := func(wantPrev int64) func(*store.Checkpoint, int64, []byte) (*store.Checkpoint, error) {
		return func(prev *store.Checkpoint, seq int64, hash []byte) (*store.Checkpoint, error) {
			got := int64(0)
			if prev != nil {
				got = prev.Seq
			}
			if got != wantPrev {
				t.Errorf("prev checkpoint %d, want %d", got, wantPrev)
			}
			return &store.Checkpoint{Seq: seq, Statement: fmt.Sprintf("head %d %x", seq, hash), Signature: []byte{1, 2, 3}}, nil
		}
	}
	c1, err := s.AddCheckpoint(ctx(t), mk(0))
	must(t, "checkpoint 1", err)
	if c1.Seq != 2 || c1.CreatedAt.IsZero() || !c1.AnchoredAt.IsZero() {
		t.Fatalf("checkpoint 1 = %+v", c1)
	}
	checkNow(t, "checkpoint CreatedAt", c1.CreatedAt, clk)
	if _, err := s.AddCheckpoint(ctx(t), mk(2)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second checkpoint at the same seq: %v, want ErrConflict", err)
	}
	must(t, "append", s.AppendAudit(ctx(t), []*chain.Event{fullEvent(2)}))
	clk.Advance(time.Minute)
	c2, err := s.AddCheckpoint(ctx(t), mk(2))
	must(t, "checkpoint 2", err)
	if c2.Seq != 3 {
		t.Fatalf("checkpoint 2 at %d", c2.Seq)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	must(t, "anchor", s.MarkAnchored(ctx(t), 2, at))
	must(t, "anchor again", s.MarkAnchored(ctx(t), 2, at.Add(time.Hour)))
	wantErr(t, "anchor unknown", s.MarkAnchored(ctx(t), 99, at), store.ErrNotFound)
	cs, err := s.ListCheckpoints(ctx(t), 0)
	must(t, "list", err)
	if len(cs) != 2 || cs[0].Seq != 2 || cs[1].Seq != 3 || cs[0].Statement != c1.Statement ||
		!bytes.Equal(cs[0].Signature, []byte{1, 2, 3}) || !cs[1].AnchoredAt.IsZero() {
		t.Fatalf("checkpoints = %+v", cs)
	}
	checkTime(t, "anchored at (first wins)", cs[0].AnchoredAt, at)
	cs, err = s.ListCheckpoints(ctx(t), 3)
	must(t, "list from 3", err)
	if len(cs) != 1 || cs[0].Seq != 3 {
		t.Fatalf("checkpoints from 3 = %+v", cs)
	}
	checkSame(t, "stored checkpoint 3", *c2, cs[0])
	checkNow(t, "checkpoint 3 CreatedAt", cs[0].CreatedAt, clk)
	// A zero anchoring time means now.
	clk.Advance(time.Minute)
	must(t, "anchor now", s.MarkAnchored(ctx(t), 3, time.Time{}))
	cs, err = s.ListCheckpoints(ctx(t), 3)
	must(t, "list from 3", err)
	checkNow(t, "anchored at for a zero time", cs[0].AnchoredAt, clk)
}

func testPrune(t *testing.T, s store.Store, clk *clock.Fake) {
	batch := make([]*chain.Event, 10)
	for i := range batch {
		batch[i] = fullEvent(i)
	}
	must(t, "append", s.AppendAudit(ctx(t), batch))
	mk := func(prev *store.Checkpoint, seq int64, hash []byte) (*store.Checkpoint, error) {
		return &store.Checkpoint{Seq: seq, Statement: "x", Signature: []byte{1}}, nil
	}
	if _, err := s.PruneAudit(ctx(t), 6); err == nil {
		t.Fatal("prune without a checkpoint succeeded")
	}
	must(t, "append", s.AppendAudit(ctx(t), nil))
	c, err := s.AddCheckpoint(ctx(t), mk)
	must(t, "checkpoint", err)
	if _, err := s.PruneAudit(ctx(t), c.Seq); err == nil {
		t.Fatal("prune behind an unanchored checkpoint succeeded")
	}
	must(t, "anchor", s.MarkAnchored(ctx(t), c.Seq, time.Time{}))
	must(t, "append more", s.AppendAudit(ctx(t), []*chain.Event{fullEvent(10), fullEvent(11)}))
	n, err := s.PruneAudit(ctx(t), c.Seq)
	must(t, "prune", err)
	if n != 10 {
		t.Fatalf("pruned %d events, want 10", n)
	}
	var seqs []int64
	must(t, "scan", s.ScanAudit(ctx(t), 0, func(e *chain.Event) error { seqs = append(seqs, e.Seq); return nil }))
	if fmt.Sprint(seqs) != "[11 12]" {
		t.Fatalf("after prune: seqs %v, want [11 12]", seqs)
	}
	cs, err := s.ListCheckpoints(ctx(t), 0)
	must(t, "list", err)
	if len(cs) != 1 || cs[0].Seq != 10 {
		t.Fatalf("after prune: checkpoints %+v", cs)
	}
	// Appends continue the chain after a prune.
	e := fullEvent(12)
	must(t, "append after prune", s.AppendAudit(ctx(t), []*chain.Event{e}))
	if e.Seq != 13 {
		t.Fatalf("after prune: next seq %d, want 13", e.Seq)
	}
	// Pruned through the head, no events are left: the chain continues from
	// the checkpoint's head hash, not from a fresh genesis.
	c2, err := s.AddCheckpoint(ctx(t), mk)
	must(t, "checkpoint at the head", err)
	must(t, "anchor", s.MarkAnchored(ctx(t), c2.Seq, time.Time{}))
	_, headHash, err := s.AuditHead(ctx(t))
	must(t, "head", err)
	if _, err := s.PruneAudit(ctx(t), c2.Seq); err != nil {
		t.Fatal(err)
	}
	seq, hash, err := s.AuditHead(ctx(t))
	must(t, "head after pruning everything", err)
	if seq != c2.Seq || !bytes.Equal(hash, headHash) {
		t.Fatalf("head after pruning everything = %d %x, want %d %x", seq, hash, c2.Seq, headHash)
	}
	next := fullEvent(13)
	must(t, "append after pruning everything", s.AppendAudit(ctx(t), []*chain.Event{next}))
	// IDs are never reused, even when the rows that had them are gone.
	if next.ID <= e.ID {
		t.Fatalf("after pruning everything: id %d, not after the pruned %d", next.ID, e.ID)
	}
	if got, err := s.ListAudit(ctx(t), store.AuditFilter{}); err != nil || len(got) != 1 || got[0].ID != next.ID {
		t.Fatalf("after pruning everything: listed %+v (%v), want the one event with id %d", got, err, next.ID)
	}
	var h chain.Hasher
	if next.Seq != c2.Seq+1 || !bytes.Equal(next.Hash, h.Next(headHash, next)) {
		t.Fatalf("after pruning everything: seq %d hash %x, want seq %d chained from the checkpoint", next.Seq, next.Hash, c2.Seq+1)
	}
}
