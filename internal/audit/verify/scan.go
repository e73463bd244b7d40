package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// scanner walks events in storage order, recomputing the chain.
type scanner struct {
	bySeq    map[int64]*signed
	expected int64                // the next sequence number; 0 until the first event
	prev     []byte               // hash of expected-1; nil if unknown (unanchored start)
	lastCP   int64                // the newest checkpoint passed
	buf      []byte               // canonical encoding, reused
	sum      [chain.HashSize]byte // the last hash computed
	prevBuf  []byte               // backs prev once the scan has set it
	n, first int64
	problem  *Problem

	// A gap [gapFrom, gapTo) being resolved: events found later in storage
	// order were moved or inserted, otherwise they are missing.
	gapFrom, gapTo int64
	gapPrev        []byte
	gapNext        chain.Event // the event at gapTo (a copy)
}

func short(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 16 {
		s = s[:16] + "…"
	}
	return s
}

// next is chain.Hasher.Next without allocating: SHA-256(prev ||
// chain.Canonical(e)), valid until the next call.
func (s *scanner) next(prev []byte, e *chain.Event) []byte {
	s.buf = chain.Canonical(append(s.buf[:0], prev...), e)
	s.sum = sha256.Sum256(s.buf)
	return s.sum[:]
}

// step checks one event and reports whether to stop.
func (s *scanner) step(e *chain.Event) bool {
	if s.gapTo > 0 {
		if e.Seq < s.gapFrom || e.Seq >= s.gapTo {
			return false
		}
		kind, detail := Reordered, fmt.Sprintf("seq %d is stored after seq %d", e.Seq, s.gapTo)
		// An event that fits the chain where it belongs is either the
		// genuine one, moved (then the event seen in its place follows it
		// in the chain), or one crafted and inserted after the later events
		// were renumbered up by one (then that event does not follow it).
		if e.Seq == s.gapFrom && s.gapTo == s.gapFrom+1 && s.gapPrev != nil &&
			bytes.Equal(s.next(s.gapPrev, e), e.Hash) && !bytes.Equal(s.next(e.Hash, &s.gapNext), s.gapNext.Hash) {
			kind, detail = Inserted, fmt.Sprintf("an event crafted to fit the chain at seq %d was stored after seq %d", e.Seq, s.gapTo)
		}
		s.problem = &Problem{Seq: s.gapFrom, Kind: kind, Detail: detail}
		return true
	}
	if s.first == 0 {
		s.first = e.Seq
	}
	if s.expected == 0 {
		s.expected = e.Seq
		switch c := s.bySeq[e.Seq-1]; {
		case e.Seq == 1:
			s.prev = chain.Genesis()
		case c != nil:
			s.prev = c.st.Head
		default:
			// The chain starts at seq 1, and pruning keeps the checkpoint
			// it pruned through: a log starting anywhere else lost its
			// first events.
			from := int64(1)
			for seq := range s.bySeq {
				if seq < e.Seq && seq >= from {
					from = seq + 1
				}
			}
			s.problem = &Problem{Seq: from, Kind: Missing,
				Detail: fmt.Sprintf("the log starts at seq %d, but no checkpoint covers seq %d: events %d..%d are missing", e.Seq, e.Seq-1, from, e.Seq-1)}
			return true
		}
	}
	switch {
	case e.Seq < s.expected:
		s.problem = &Problem{Seq: e.Seq, Kind: Inserted, Detail: fmt.Sprintf("sequence number %d appears again after %d", e.Seq, s.expected-1)}
		return true
	case e.Seq > s.expected:
		s.gapFrom, s.gapTo, s.gapPrev = s.expected, e.Seq, s.prev
		s.gapNext = *e
		s.gapNext.Hash = bytes.Clone(e.Hash)
		return false
	}
	s.n++
	if s.prev != nil {
		if got := s.next(s.prev, e); !bytes.Equal(got, e.Hash) {
			s.problem = &Problem{Seq: e.Seq, Kind: Modified,
				Detail: fmt.Sprintf("the event does not match its hash (stored %s, recomputed %s)", short(e.Hash), short(got))}
			return true
		}
	}
	if c := s.bySeq[e.Seq]; c != nil {
		if !bytes.Equal(c.st.Head, e.Hash) {
			from := max(s.lastCP+1, s.first)
			s.problem = &Problem{Seq: from, Kind: Rewritten,
				Detail: fmt.Sprintf("the chain does not reach the signed head of the checkpoint at seq %d: events %d..%d were changed and rehashed", e.Seq, from, e.Seq)}
			return true
		}
		s.lastCP = e.Seq
	}
	s.prevBuf = append(s.prevBuf[:0], e.Hash...)
	s.prev = s.prevBuf
	s.expected++
	return false
}

// finish reports an unresolved gap as missing events.
func (s *scanner) finish() {
	if s.problem == nil && s.gapTo > 0 {
		s.problem = &Problem{Seq: s.gapFrom, Kind: Missing, Detail: fmt.Sprintf("events %d..%d are missing", s.gapFrom, s.gapTo-1)}
		s.expected = s.gapFrom
	}
}
