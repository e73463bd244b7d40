// Package verify checks an audit log — the live database or a JSONL export
// — against the signed checkpoints in the anchor store, without trusting
// the gateway's database: every hash is recomputed, every signature checked,
// every anchored head found in the chain, and sequence numbers must be
// gapless and in storage order. The first problem found is reported with
// its sequence number and kind.
package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Kind names what is wrong.
type Kind string

// Problem kinds.
const (
	Modified           Kind = "modified"            // an event's content no longer matches its hash
	Missing            Kind = "missing"             // sequence numbers are missing (events deleted)
	Reordered          Kind = "reordered"           // events are out of their appended order
	Inserted           Kind = "inserted"            // an event was added after the fact
	Truncated          Kind = "truncated"           // the log ends before a signed checkpoint
	Rewritten          Kind = "rewritten"           // the chain does not reach a signed checkpoint's head
	BadSignature       Kind = "bad signature"       // a checkpoint's signature does not verify with the key
	AnchorMissing      Kind = "anchor missing"      // a checkpoint is absent from the anchor store
	CheckpointMismatch Kind = "checkpoint mismatch" // the database's checkpoint differs from its anchor
)

// Problem is the first thing found wrong.
type Problem struct {
	Seq    int64
	Kind   Kind
	Detail string
}

func (p *Problem) String() string { return fmt.Sprintf("seq %d: %s: %s", p.Seq, p.Kind, p.Detail) }

// Input is what to verify.
type Input struct {
	// Scan yields the events in storage order (database ID order, or the
	// export's line order).
	Scan func(ctx context.Context, fn func(*chain.Event) error) error
	// FirstSeq and PrevHash, if FirstSeq > 0, say where the log starts and
	// the hash before it (an export header). Otherwise the log starts at the
	// first event scanned, and the hash before it is the genesis hash for
	// seq 1 or the head of the checkpoint just before it.
	FirstSeq int64
	PrevHash []byte
	// Checkpoints are the checkpoints the database (or export) records;
	// each one it says is anchored must be in the anchor store, unchanged.
	Checkpoints []store.Checkpoint
	// Anchors is the WORM anchor store; nil verifies against Checkpoints
	// only, which proves the chain consistent but not that it was not
	// rewritten by someone holding the database and the signing key.
	Anchors   checkpoint.Anchors
	PublicKey ed25519.PublicKey
	// Slice: the events are a bounded run of the chain (an export with an
	// end in time), so checkpoints after its last event are not expected.
	Slice bool
	// End, if set, reports the export's end line after Scan: the last seq
	// and number of events it claims (ok false: the file has none, which a
	// Slice may not lack).
	End func() (lastSeq, events int64, ok bool)
}

// Report is the outcome.
type Report struct {
	Problem       *Problem // nil if the log verified
	Events        int64
	FirstSeq      int64
	LastSeq       int64
	Checkpoints   int   // signed checkpoints verified
	Anchored      int   // of which found in the anchor store
	NewestAnchor  int64 // seq of the newest anchored checkpoint (0 if none)
	AnchorSource  string
	UnverifiedEnd int64 // events after the newest signed checkpoint
	Slice         bool  // a bounded run of the chain (Input.Slice)
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return r.Problem == nil }

// Verdict is a one-line summary.
func (r *Report) Verdict() string {
	if r.Problem != nil {
		return "FAIL: " + r.Problem.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OK: %d events (seq %d..%d) chain intact; %d signed checkpoints verified", r.Events, r.FirstSeq, r.LastSeq, r.Checkpoints)
	if r.AnchorSource != "" {
		fmt.Fprintf(&b, ", %d found in %s, newest anchor at seq %d matched", r.Anchored, r.AnchorSource, r.NewestAnchor)
	} else {
		b.WriteString(" (no anchor store given: not checked against WORM anchors)")
	}
	if r.Slice {
		fmt.Fprintf(&b, "; a slice of the log ending at seq %d (checkpoints after it not required)", r.LastSeq)
	}
	if r.UnverifiedEnd > 0 {
		fmt.Fprintf(&b, "; %d newest events not yet covered by a checkpoint", r.UnverifiedEnd)
	}
	return b.String()
}

// signed is a verified checkpoint statement.
type signed struct {
	st       *checkpoint.Statement
	text     string
	anchored bool
}

// Run verifies in. An error means verification could not be done (the
// database or anchor store unreadable, a malformed export); a tampered log
// is a Report with a Problem.
func Run(ctx context.Context, in Input) (*Report, error) {
	rep := &Report{}
	cps, prob, err := loadCheckpoints(ctx, in, rep)
	if err != nil || prob != nil {
		rep.Problem = prob
		return rep, err
	}
	bySeq := make(map[int64]*signed, len(cps))
	for _, c := range cps {
		bySeq[c.st.Seq] = c
	}
	var newest int64
	if len(cps) > 0 {
		newest = cps[len(cps)-1].st.Seq
	}

	s := scanner{bySeq: bySeq, expected: in.FirstSeq, prev: in.PrevHash}
	if in.FirstSeq > 0 {
		// Where a signed head (or the genesis hash) is known before the
		// first event, it is the trusted start; a header disagreeing with
		// it is a problem, and an empty one means "not given".
		var known []byte
		if in.FirstSeq == 1 {
			known = chain.Genesis()
		} else if c := bySeq[in.FirstSeq-1]; c != nil {
			known = c.st.Head
		}
		switch {
		case len(in.PrevHash) == 0:
			s.prev = known
		case known != nil && !bytes.Equal(known, in.PrevHash):
			rep.Problem = &Problem{Seq: in.FirstSeq, Kind: Rewritten,
				Detail: fmt.Sprintf("the hash before seq %d is given as %s, not the signed %s", in.FirstSeq, short(in.PrevHash), short(known))}
			return rep, nil
		}
	}
	errStop := errors.New("stop")
	err = in.Scan(ctx, func(e *chain.Event) error {
		if s.step(e) {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, err
	}
	s.finish()
	rep.Events, rep.FirstSeq, rep.LastSeq = s.n, s.first, s.expected-1
	if s.problem != nil {
		rep.Problem = s.problem
		return rep, nil
	}
	if s.n == 0 {
		rep.FirstSeq, rep.LastSeq = 0, 0
		// A log pruned through its newest checkpoint is empty. A prune
		// keeps its checkpoint as the oldest one recorded, and that one
		// names a predecessor; the first checkpoint ever made does not.
		if len(in.Checkpoints) > 0 && in.FirstSeq <= 0 {
			oldest := in.Checkpoints[0].Seq
			for _, c := range in.Checkpoints {
				oldest = min(oldest, c.Seq)
			}
			if c := bySeq[oldest]; c != nil && c.st.Prev != nil {
				rep.LastSeq = oldest
			}
		}
	}
	if in.End != nil {
		lastSeq, events, ok := in.End()
		switch {
		case !ok && in.Slice:
			rep.Problem = &Problem{Seq: rep.LastSeq + 1, Kind: Truncated,
				Detail: "the export is bounded in time but has no end line: the file was cut short"}
			return rep, nil
		case ok && (events != rep.Events || events > 0 && lastSeq != rep.LastSeq):
			rep.Problem = &Problem{Seq: rep.LastSeq + 1, Kind: Truncated,
				Detail: fmt.Sprintf("the export's end line says %d events through seq %d, but it holds %d through seq %d", events, lastSeq, rep.Events, rep.LastSeq)}
			return rep, nil
		}
	}
	if in.Slice {
		// A slice need only reach the newest checkpoint within it.
		rep.Slice = true
		newest = 0
		for _, c := range cps {
			if c.st.Seq <= rep.LastSeq {
				newest = max(newest, c.st.Seq)
			}
		}
	}
	// The log must reach the newest signed checkpoint.
	if newest > rep.LastSeq {
		rep.Problem = &Problem{Seq: rep.LastSeq + 1, Kind: Truncated,
			Detail: fmt.Sprintf("the log ends at seq %d but a signed checkpoint covers seq %d", rep.LastSeq, newest)}
		return rep, nil
	}
	if newest >= rep.FirstSeq {
		rep.UnverifiedEnd = rep.LastSeq - newest
	} else {
		rep.UnverifiedEnd = s.n
	}
	return rep, nil
}

// loadCheckpoints reads and checks the anchors and the recorded
// checkpoints, returning the verified statements oldest first.
func loadCheckpoints(ctx context.Context, in Input, rep *Report) ([]*signed, *Problem, error) {
	var out []*signed
	anchored := map[int64]*signed{}
	if in.Anchors != nil {
		rep.AnchorSource = in.Anchors.Describe()
		keys, err := in.Anchors.List(ctx, checkpoint.AnchorPrefix)
		if err != nil {
			return nil, nil, fmt.Errorf("list anchors: %w", err)
		}
		sort.Strings(keys)
		var prevText string
		for _, k := range keys {
			data, err := in.Anchors.Get(ctx, k)
			if err != nil {
				return nil, nil, fmt.Errorf("read anchor %s: %w", k, err)
			}
			a, err := checkpoint.DecodeAnchor(data)
			if err != nil {
				return nil, &Problem{Kind: BadSignature, Detail: fmt.Sprintf("anchor %s: %v", k, err)}, nil
			}
			st, err := checkpoint.Verify(in.PublicKey, a.Statement, a.Signature)
			if err != nil {
				seq := int64(0)
				if p, perr := checkpoint.Parse(a.Statement); perr == nil {
					seq = p.Seq
				}
				return nil, &Problem{Seq: seq, Kind: BadSignature, Detail: fmt.Sprintf("anchor %s: %v (key id %s)", k, err, checkpoint.KeyID(in.PublicKey))}, nil
			}
			if checkpoint.AnchorKey(st.Seq) != k {
				return nil, &Problem{Seq: st.Seq, Kind: CheckpointMismatch, Detail: fmt.Sprintf("anchor %s holds the checkpoint of seq %d", k, st.Seq)}, nil
			}
			if prevText != "" && !bytes.Equal(st.Prev, checkpoint.Hash(prevText)) {
				return nil, &Problem{Seq: st.Seq, Kind: AnchorMissing,
					Detail: "the checkpoint does not follow the previous anchor: an anchor between them is missing or was replaced"}, nil
			}
			prevText = a.Statement
			sg := &signed{st: st, text: a.Statement, anchored: true}
			anchored[st.Seq] = sg
			out = append(out, sg)
		}
	}
	// The database's (or export's) own checkpoints.
	for _, c := range in.Checkpoints {
		if sg, ok := anchored[c.Seq]; ok {
			if sg.text != c.Statement || !ed25519.Verify(in.PublicKey, []byte(c.Statement), c.Signature) {
				return nil, &Problem{Seq: c.Seq, Kind: CheckpointMismatch, Detail: "the recorded checkpoint differs from its anchor"}, nil
			}
			continue
		}
		st, err := checkpoint.Verify(in.PublicKey, c.Statement, c.Signature)
		if err != nil {
			return nil, &Problem{Seq: c.Seq, Kind: BadSignature, Detail: fmt.Sprintf("recorded checkpoint: %v (key id %s)", err, checkpoint.KeyID(in.PublicKey))}, nil
		}
		if in.Anchors != nil && !c.AnchoredAt.IsZero() {
			return nil, &Problem{Seq: c.Seq, Kind: AnchorMissing,
				Detail: fmt.Sprintf("the checkpoint was anchored at %s but is not in %s", c.AnchoredAt.UTC().Format("2006-01-02T15:04:05Z"), in.Anchors.Describe())}, nil
		}
		if in.Anchors != nil && len(out) > 0 && st.Seq < out[len(out)-1].st.Seq {
			return nil, &Problem{Seq: c.Seq, Kind: AnchorMissing, Detail: "an older checkpoint than the newest anchor is not anchored"}, nil
		}
		out = append(out, &signed{st: st, text: c.Statement})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].st.Seq < out[j].st.Seq })
	// Recorded checkpoints link to each other too.
	for i := 1; i < len(out); i++ {
		if !out[i].anchored && !bytes.Equal(out[i].st.Prev, checkpoint.Hash(out[i-1].text)) {
			return nil, &Problem{Seq: out[i].st.Seq, Kind: CheckpointMismatch, Detail: "the checkpoint does not follow the previous one"}, nil
		}
	}
	rep.Checkpoints, rep.Anchored = len(out), len(anchored)
	for _, s := range out {
		if s.anchored {
			rep.NewestAnchor = s.st.Seq
		}
	}
	return out, nil, nil
}
