// Package anchor stores the audit log's signed checkpoints as write-once
// objects: in an S3 bucket with Object Lock in COMPLIANCE mode (production),
// or in a local directory (dev mode; not WORM, and it says so).
package anchor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors returned by every backend.
var (
	// ErrExists means the key is taken; the stored object is unchanged.
	ErrExists = errors.New("anchor: already exists")
	// ErrNotFound means there is no object under the key.
	ErrNotFound = errors.New("anchor: not found")
)

// Key is the object key of the checkpoint at seq, zero-padded so that
// lexical (S3 listing) order is numeric order.
func Key(seq uint64) string { return fmt.Sprintf("checkpoints/%020d.json", seq) }

// ParseKey returns the sequence number in a Key.
func ParseKey(key string) (uint64, error) {
	s, ok := strings.CutPrefix(key, "checkpoints/")
	if ok {
		s, ok = strings.CutSuffix(s, ".json")
	}
	if !ok || len(s) != 20 {
		return 0, fmt.Errorf("anchor: %q is not a checkpoint key", key)
	}
	return strconv.ParseUint(s, 10, 64)
}

// validKey refuses keys that could escape a directory or confuse listing.
func validKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") || strings.Contains(key, "\\") ||
		strings.ContainsAny(key, "\x00\r\n") {
		return fmt.Errorf("anchor: invalid key %q", key)
	}
	return nil
}
