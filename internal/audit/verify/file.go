package verify

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// OpenExport prepares the verification of a JSONL export file, read once:
// the header and the checkpoint lines, which precede the events, are read
// now; Input.Scan streams the events. Close the returned file when done.
func OpenExport(path string, anchors checkpoint.Anchors, pub ed25519.PublicKey) (Input, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return Input{}, nil, err
	}
	r, err := export.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return Input{}, nil, err
	}
	if r.Header.Filtered {
		f.Close()
		return Input{}, nil, errors.New("this export is filtered (--app/--actor) and cannot be chain-verified; export without filters")
	}
	var prev []byte
	if r.Header.PrevHash != "" {
		if prev, err = hex.DecodeString(r.Header.PrevHash); err != nil {
			f.Close()
			return Input{}, nil, fmt.Errorf("export header: bad prev_hash: %w", err)
		}
	}
	var first chain.Event
	firstErr := r.Next(&first) // collects the checkpoint lines before it
	if firstErr != nil && !errors.Is(firstErr, io.EOF) {
		f.Close()
		return Input{}, nil, firstErr
	}
	cps := append([]store.Checkpoint(nil), r.Checkpoints...)
	in := Input{FirstSeq: r.Header.FirstSeq, PrevHash: prev, Checkpoints: cps, Anchors: anchors, PublicKey: pub,
		Slice: r.Header.Until != "",
		End: func() (int64, int64, bool) {
			if r.End == nil {
				return 0, 0, false
			}
			return r.End.LastSeq, r.End.Events, true
		},
		Scan: func(ctx context.Context, fn func(*chain.Event) error) error {
			if firstErr != nil { // no events
				return nil
			}
			if err := fn(&first); err != nil {
				return err
			}
			var e chain.Event
			for {
				err := r.Next(&e)
				if len(r.Checkpoints) != len(cps) {
					return errors.New("export: a checkpoint line follows events; checkpoints must come right after the header (as `rack-gateway audit export` writes them)")
				}
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if err := fn(&e); err != nil {
					return err
				}
			}
		}}
	return in, f, nil
}
