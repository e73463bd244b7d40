package export

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Options select what ExportAudit writes.
type Options struct {
	Format       string // jsonl or csv
	Since, Until time.Time
	App, Actor   string
	// Action, Decision and Rack select like store.AuditFilter's fields.
	Action, Decision, Rack string
}

// Filtered reports whether o skips events other than by time: such an
// export cannot be chain-verified.
func (o Options) Filtered() bool {
	return o.App != "" || o.Actor != "" || o.Action != "" || o.Decision != "" || o.Rack != ""
}

// Source is what an export reads: the chained events and the
// checkpoints.
type Source interface {
	store.AuditReader
	store.CheckpointReader
}

// maxOverrun bounds the events a time-bounded export holds back past its
// Until: events are in chain order, and their times (from several
// replicas) are only nearly ordered, so an event stamped after Until may be
// followed by one stamped before it.
const maxOverrun = 10000

// Write writes the chained events (and, for JSONL, the checkpoints) to w.
//
// A JSONL export bounded in time is one unbroken run of the chain, so it
// verifies on its own: it starts at the first event stamped at or after
// Since (its header carries the hash before it) and ends at the last event
// stamped before Until, and carries every event between them, even one
// stamped a moment outside the range. Its header records Until and its
// end line the last event, so `audit verify` neither expects checkpoints
// past its end nor misses a file cut short. Filters other than time (app,
// actor, action, decision, rack) skip events and mark the export
// unverifiable. CSV exports hold exactly the events
// in range.
func Write(ctx context.Context, st Source, w io.Writer, o Options) error {
	inRange := func(e *chain.Event) bool {
		return (o.Since.IsZero() || !e.Time.Before(o.Since)) && (o.Until.IsZero() || e.Time.Before(o.Until))
	}
	filtered := o.Filtered()
	keep := func(e *chain.Event) bool {
		return inRange(e) && (o.App == "" || e.App == o.App) && (o.Actor == "" || e.Actor == o.Actor) &&
			(o.Action == "" || e.Action == o.Action) && (o.Decision == "" || e.Decision == o.Decision) &&
			(o.Rack == "" || e.Rack == o.Rack)
	}
	from, err := scanFrom(ctx, st, o)
	if err != nil {
		return err
	}
	if o.Format == "csv" {
		cw, err := NewCSVWriter(w)
		if err != nil {
			return err
		}
		err = st.ScanAudit(ctx, from, func(e *chain.Event) error {
			if keep(e) {
				return cw.WriteEvent(e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return cw.Flush()
	}
	jw := NewJSONLWriter(w)
	// Checkpoints go right after the header, so a verifier reads the file
	// once; those made while the export runs are left out (the events after
	// the last one included are then the unverified tail).
	cps, err := st.ListCheckpoints(ctx, 0)
	if err != nil {
		return err
	}
	h := Header{ExportedAt: time.Now().UTC().Format(time.RFC3339), Filtered: filtered}
	if !o.Until.IsZero() {
		h.Until = o.Until.UTC().Format(time.RFC3339Nano)
	}
	var (
		prev            []byte
		started         bool
		last, n         int64
		pending         []chain.Event // stamped at or after Until, held back
		errEnough       = errors.New("past the range")
		write           = func(e *chain.Event) error { last, n = e.Seq, n+1; return jw.WriteEvent(e, chain.SchemaVersion) }
		afterUntil      = func(e *chain.Event) bool { return !o.Until.IsZero() && !e.Time.Before(o.Until) }
		contiguousSlice = !filtered
	)
	// The header needs the hash before the first exported event, so events
	// pass through one-event lookbehind.
	err = st.ScanAudit(ctx, from, func(e *chain.Event) error {
		if !started {
			if !keep(e) {
				prev = append(prev[:0], e.Hash...)
				return nil
			}
			started = true
			h.FirstSeq, h.PrevHash = e.Seq, hex.EncodeToString(prev)
			if e.Seq == 1 {
				h.PrevHash = hex.EncodeToString(chain.Genesis())
			}
			if err := jw.WriteHeader(h); err != nil {
				return err
			}
			for i := range cps {
				if cps[i].Seq >= e.Seq-1 {
					if err := jw.WriteCheckpoint(&cps[i]); err != nil {
						return err
					}
				}
			}
			return write(e)
		}
		if !contiguousSlice {
			if keep(e) {
				return write(e)
			}
			return nil
		}
		if afterUntil(e) {
			if len(pending) == maxOverrun {
				return errEnough
			}
			pending = append(pending, *e)
			return nil
		}
		for i := range pending {
			if err := write(&pending[i]); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return write(e)
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err
	}
	if !started {
		h.PrevHash = hex.EncodeToString(chain.Genesis())
		if err := jw.WriteHeader(h); err != nil {
			return err
		}
	}
	if err := jw.WriteEnd(last, n); err != nil {
		return err
	}
	return jw.Flush()
}

// scanFrom is the seq an export of o scans from: 0 (the first event), or,
// with a Since and a Source that can seek (store.AuditSeeker), one before
// the floor of the range. Every event before the floor is outside the
// range, so none of them is exported, and the one just before it, if it
// exists, is the first scanned: the hash before the first exported event
// (the header's PrevHash) is read exactly as by a scan from 0.
func scanFrom(ctx context.Context, st Source, o Options) (int64, error) {
	sk, ok := st.(store.AuditSeeker)
	if !ok || o.Since.IsZero() {
		return 0, nil
	}
	floor, err := sk.AuditSeqFloor(ctx, o.Since, o.Until)
	return max(floor-1, 0), err
}
