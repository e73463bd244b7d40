package store

import (
	"context"
	"time"
)

// Checkpoint is a signed statement of the audit chain's head (package
// audit/checkpoint makes and checks them). The store keeps them in order and
// records when each reached the WORM anchor store.
type Checkpoint struct {
	Seq        int64  // the last event it covers
	Statement  string // the signed text, which names Seq and the head hash
	Signature  []byte // Ed25519 over Statement
	CreatedAt  time.Time
	AnchoredAt time.Time // zero until anchored
}

// CheckpointReader reads the signed checkpoints of the audit chain, for
// verification and export.
type CheckpointReader interface {
	// ListCheckpoints returns checkpoints with Seq >= fromSeq, oldest first.
	ListCheckpoints(ctx context.Context, fromSeq int64) ([]Checkpoint, error)
}

// Checkpoints stores the signed checkpoints of the audit chain.
type Checkpoints interface {
	CheckpointReader
	// AddCheckpoint makes the next checkpoint, serialized with appends and
	// other AddCheckpoint calls in every process: it calls make with the
	// newest checkpoint (nil if none) and the chain head, and stores what
	// make returns, with a zero CreatedAt set to now. make returns nil to
	// store nothing (e.g. no new events). A checkpoint not at the head is
	// an error; one at the seq of an existing one is ErrConflict.
	AddCheckpoint(ctx context.Context, make func(prev *Checkpoint, headSeq int64, headHash []byte) (*Checkpoint, error)) (*Checkpoint, error)
	// MarkAnchored records that the checkpoint at seq is anchored, at at (a
	// zero time means now); once: marking again keeps the first time. A
	// missing checkpoint is ErrNotFound.
	MarkAnchored(ctx context.Context, seq int64, at time.Time) error
}
