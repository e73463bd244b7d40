package store

import (
	"context"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	Actor    string
	App      string
	Action   string
	Decision string
	Rack     string
	Since    time.Time
	Until    time.Time
	BeforeID int64 // for paging: events with ID < BeforeID
	Limit    int   // default 100, newest first
}

// AuditSeeker finds where a time range starts in the chain, so that a
// time-bounded export (package audit/export) need not scan the log from its
// first event. Both SQL stores implement it.
type AuditSeeker interface {
	// AuditSeqFloor returns a sequence number s such that no chained event
	// with Seq < s is stamped in [since, until) (a zero until is
	// unbounded). It is exact or lower; 0 or 1 when it knows no better
	// bound. Event times are only nearly in Seq order, so it is not found
	// by time alone.
	AuditSeqFloor(ctx context.Context, since, until time.Time) (int64, error)
}

// AuditAppender writes the audit log, the product's hot path.
//
// The audit tables are append-only: the backends refuse UPDATE and DELETE
// of audit rows with triggers, for every writer of the database; only
// AuditPruner removes events.
type AuditAppender interface {
	// AppendAudit durably inserts events in order, in one transaction. It
	// sets a zero Time to now and normalizes the others, and links the
	// events into the hash chain (package audit/chain): it sets Seq to the
	// next gapless sequence numbers and Hash, reading the head inside the
	// same serialized transaction, so several processes appending to one
	// database form one chain. IDs are set only after the batch has
	// committed, and increase in commit order. A nil event is an error and
	// nothing is written.
	AppendAudit(ctx context.Context, events []*chain.Event) error
}

// AuditReader reads the audit log.
type AuditReader interface {
	// ListAudit returns the events matching f, newest (highest ID) first,
	// at most AuditLimit(f.Limit).
	ListAudit(ctx context.Context, f AuditFilter) ([]chain.Event, error)
	// AuditHead returns the newest chained event's Seq and Hash (after a
	// prune that left no events, the newest checkpoint's); 0 and nil for
	// an empty chain.
	AuditHead(ctx context.Context) (seq int64, hash []byte, err error)
	// ScanAudit calls fn for every chained event with Seq >= fromSeq, in
	// storage (ID) order, which is the order they were appended. The event
	// passed to fn is reused; fn must copy what it keeps. An error from fn
	// stops the scan and is returned as is.
	ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error
}

// AuditPruner removes old audit events behind an anchored checkpoint.
type AuditPruner interface {
	// PruneAudit deletes chained events with Seq <= throughSeq and older
	// checkpoints, keeping the checkpoint at throughSeq, which must exist
	// (else ErrNotFound) and be anchored. It returns the number of events
	// deleted. Appends after it continue the chain from that checkpoint.
	// On PostgreSQL it needs the owner of the tables.
	PruneAudit(ctx context.Context, throughSeq int64) (int64, error)
}

// AuditDay is one UTC day of an AuditActivity.
type AuditDay struct {
	Day     time.Time // 00:00 UTC of the day
	Events  int64
	Denials int64 // of Events, those with decision "deny"
}

// AuditCount is one value of an AuditActivity's breakdown.
type AuditCount struct {
	Key     string // the actor or action
	Events  int64
	Denials int64
}

// AuditActivity is what the audit log's activity chart shows.
type AuditActivity struct {
	Days []AuditDay   // oldest first; days without events are left out
	Top  []AuditCount // most events first, then by Key
}

// Breakdowns of AuditActivity.
const (
	ByActor  = "actor"
	ByAction = "action"
)

// MaxActivityDays bounds the range AuditActivity aggregates.
const MaxActivityDays = 366

// AuditStats aggregates the audit log and finds single events in it, for
// the console's explorer.
type AuditStats interface {
	// AuditActivity counts the chained and unchained events matching f
	// (BeforeID and Limit ignored) per UTC day, and per actor or action
	// (by: ByActor or ByAction), keeping the top values. f.Since and
	// f.Until must both be set, at most MaxActivityDays apart: the
	// aggregate reads a bounded range.
	AuditActivity(ctx context.Context, f AuditFilter, by string, top int) (AuditActivity, error)
	// AuditEvent returns the chained event with sequence number seq;
	// ErrNotFound if there is none (never written, or pruned).
	AuditEvent(ctx context.Context, seq int64) (chain.Event, error)
	// CoveringCheckpoint returns the oldest checkpoint with Seq >= seq
	// (the one that covers event seq) and the first seq it covers (one
	// after the checkpoint before it, or 1); ErrNotFound if none yet.
	CoveringCheckpoint(ctx context.Context, seq int64) (c Checkpoint, fromSeq int64, err error)
	// LastCheckpoint returns the newest checkpoint, or with anchored set
	// the newest anchored one; ErrNotFound if there is none.
	LastCheckpoint(ctx context.Context, anchored bool) (Checkpoint, error)
}
