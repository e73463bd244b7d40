// Package chain defines the audit log's hash chain: the canonical encoding of
// an event and how each event's hash commits to everything before it.
//
//	hash_n = SHA-256(hash_{n-1} || Canonical(event_n)),  hash_0 = 32 zero bytes
//
// Canonical is unambiguous: a fixed field order, every string length-prefixed
// and every integer fixed-width, under a version tag, so no two different
// events encode alike. It covers the event's sequence number, so moving an
// event changes its hash. The stores compute the chain inside the
// transaction that appends (serialized across processes), and the verifier
// recomputes it from an export or the live database.
package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// SchemaVersion is the version of Canonical. It is part of the encoding; a
// future change of fields gets a new version and a new tag.
const SchemaVersion = 1

const tag = "rack-gateway/audit-event/v1\x00"

// HashSize is the size of a chain hash.
const HashSize = sha256.Size

// Genesis returns the hash before the first event: 32 zero bytes.
func Genesis() []byte { return make([]byte, HashSize) }

// Event is one audited action: a proxied rack API call (allowed or
// denied) or a gateway administration action. It never holds secrets.
type Event struct {
	ID int64 // assigned by the store, strictly increasing
	// Seq is the event's gapless position in the hash chain, from 1; Hash
	// is SHA-256(previous Hash || Canonical(event)). Both are set by the
	// store when the event is appended (Link).
	Seq        int64
	Hash       []byte
	Time       time.Time
	RequestID  string
	Rack       string
	ActorType  string // "user", "token", "anonymous", "system"
	Actor      string // user email, or "token:<name>"
	ActorID    int64  // user id (owner for tokens); 0 if none
	TokenID    int64  // 0 if not a token
	Role       string
	SourceIP   string
	UserAgent  string
	Method     string
	Path       string // request path without query string
	Route      string // route name from the route table, or "" if unmatched
	Action     string // route name for proxied calls, e.g. "user.create" for admin actions
	App        string
	Resource   string
	Permission string
	Decision   string // "allow" or "deny"
	Reason     string // typed reason code
	Status     int
	DurationUS int64  // microseconds
	Details    string // JSON object, allow-listed fields only; "" if none
}

// Canonical appends the canonical encoding of e (with its Seq and its Time at
// microsecond precision, as stored) to dst.
func Canonical(dst []byte, e *Event) []byte {
	dst = append(dst, tag...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Seq))
	dst = binary.BigEndian.AppendUint64(dst, uint64(micros(e.Time)))
	for _, s := range [...]string{e.RequestID, e.Rack, e.ActorType, e.Actor} {
		dst = str(dst, s)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.ActorID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.TokenID))
	for _, s := range [...]string{e.Role, e.SourceIP, e.UserAgent, e.Method, e.Path, e.Route,
		e.Action, e.App, e.Resource, e.Permission, e.Decision, e.Reason} {
		dst = str(dst, s)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(int64(e.Status)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.DurationUS))
	return str(dst, e.Details)
}

func str(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// micros is the stored precision of event times; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Hasher computes successive chain hashes, reusing its buffer.
type Hasher struct {
	buf []byte
}

// Next returns SHA-256(prev || Canonical(e)).
func (h *Hasher) Next(prev []byte, e *Event) []byte {
	h.buf = append(h.buf[:0], prev...)
	h.buf = Canonical(h.buf, e)
	sum := sha256.Sum256(h.buf)
	return sum[:]
}

// Link assigns Seq and Hash to events appended after the head (headSeq,
// headHash); headSeq 0 means an empty chain (headHash is then ignored).
func Link(headSeq int64, headHash []byte, events []*Event) {
	if headSeq == 0 {
		headHash = Genesis()
	}
	var h Hasher
	prev := headHash
	for i, e := range events {
		e.Seq = headSeq + int64(i) + 1
		e.Hash = h.Next(prev, e)
		prev = e.Hash
	}
}
