package export

import (
	"context"
	"encoding/hex"
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

// Write writes the chained events (and, for JSONL, the checkpoints)
// to w. A time-bounded JSONL export starts with the hash before its first
// event, so it verifies on its own; other filters mark it unverifiable.
// Source is what an export reads: the chained events and the
// checkpoints.
type Source interface {
	store.AuditReader
	store.CheckpointReader
}

func Write(ctx context.Context, st Source, w io.Writer, o Options) error {
	keep := func(e *chain.Event) bool {
		return (o.Since.IsZero() || !e.Time.Before(o.Since)) && (o.Until.IsZero() || e.Time.Before(o.Until)) &&
			(o.App == "" || e.App == o.App) && (o.Actor == "" || e.Actor == o.Actor) &&
			(o.Action == "" || e.Action == o.Action) && (o.Decision == "" || e.Decision == o.Decision) &&
			(o.Rack == "" || e.Rack == o.Rack)
	}
	if o.Format == "csv" {
		cw, err := NewCSVWriter(w)
		if err != nil {
			return err
		}
		err = st.ScanAudit(ctx, 0, func(e *chain.Event) error {
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
	var (
		prev    []byte
		started bool
		first   int64
	)
	// The header needs the hash before the first exported event, so events
	// pass through one-event lookbehind.
	err = st.ScanAudit(ctx, 0, func(e *chain.Event) error {
		if !keep(e) {
			if !started {
				prev = append(prev[:0], e.Hash...)
			}
			return nil
		}
		if !started {
			started, first = true, e.Seq
			ph := prev
			if e.Seq == 1 {
				ph = chain.Genesis()
			}
			if err := jw.WriteHeader(Header{ExportedAt: time.Now().UTC().Format(time.RFC3339), FirstSeq: first,
				PrevHash: hex.EncodeToString(ph), Filtered: o.Filtered()}); err != nil {
				return err
			}
			for i := range cps {
				if cps[i].Seq >= first-1 {
					if err := jw.WriteCheckpoint(&cps[i]); err != nil {
						return err
					}
				}
			}
		}
		return jw.WriteEvent(e, chain.SchemaVersion)
	})
	if err != nil {
		return err
	}
	if !started {
		if err := jw.WriteHeader(Header{ExportedAt: time.Now().UTC().Format(time.RFC3339), PrevHash: hex.EncodeToString(chain.Genesis())}); err != nil {
			return err
		}
	}
	return jw.Flush()
}
