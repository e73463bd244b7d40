// Package anchor stores the audit log's signed checkpoints as write-once
// objects ("anchors"): in an S3 bucket with Object Lock (production), or in
// a local directory (dev mode; not WORM, and Describe says so).
//
// Every backend implements Store. A key is written at most once: a second
// Put of the same key returns ErrExists and leaves the stored bytes alone.
package anchor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Store holds anchors: small immutable objects, write-once.
type Store interface {
	// Put writes data under key exactly once. If the key exists already,
	// Put returns an error wrapping ErrExists and changes nothing.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the object's bytes; an error wrapping ErrNotFound if
	// absent.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns every key with the given prefix in ascending lexical
	// order (pagination is handled inside).
	List(ctx context.Context, prefix string) ([]string, error)
	// Describe is a one-line human description of where anchors go, e.g.
	// "s3://bucket/prefix (Object Lock COMPLIANCE, 2555d)" or
	// "dir /x (NOT WORM: local directory)".
	Describe() string
}

// Both backends are Stores.
var (
	_ Store = (*Dir)(nil)
	_ Store = (*S3)(nil)
)

// Errors returned (wrapped, with the key) by every backend; test with
// errors.Is.
var (
	// ErrExists means the key is taken; the stored object is unchanged.
	ErrExists = errors.New("anchor: already exists")
	// ErrNotFound means there is no object under the key.
	ErrNotFound = errors.New("anchor: not found")
)

// MaxSize is the largest anchor Get reads (anchors are small JSON
// documents); a bigger object is an error rather than a memory hazard.
const MaxSize = 1 << 20

const (
	keyPrefix = "checkpoints/"
	keySuffix = ".json"
	seqDigits = 20 // len("18446744073709551615"), the largest uint64
)

// Key is the object key of the checkpoint at seq: "checkpoints/" + seq as
// 20 zero-padded decimal digits + ".json", so that lexical (S3 listing)
// order is numeric order.
func Key(seq uint64) string { return fmt.Sprintf("%s%0*d%s", keyPrefix, seqDigits, seq, keySuffix) }

// ParseKey returns the sequence number in a key made by Key. It accepts
// exactly that form (20 decimal digits), nothing looser.
func ParseKey(key string) (uint64, error) {
	s, ok := strings.CutPrefix(key, keyPrefix)
	if ok {
		s, ok = strings.CutSuffix(s, keySuffix)
	}
	if !ok || len(s) != seqDigits || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("anchor: %q is not a checkpoint key (want %s<%d digits>%s)", key, keyPrefix, seqDigits, keySuffix)
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("anchor: %q is not a checkpoint key: %w", key, err)
	}
	return seq, nil
}

// validKey refuses keys that could escape a directory, name a directory, or
// confuse listing: empty, absolute, "." or ".." segments, empty segments,
// backslashes, control characters.
func validKey(key string) error {
	bad := key == "" || len(key) > 1024 || strings.ContainsAny(key, "\\") || strings.HasSuffix(key, "/")
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			bad = true
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("anchor: invalid key %q", key)
	}
	return nil
}
