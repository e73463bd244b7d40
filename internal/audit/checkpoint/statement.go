// Package checkpoint signs and checks the audit chain's checkpoints and
// anchors them in write-once storage.
//
// A checkpoint is a short text statement naming the chain head — the last
// sequence number and its hash — and the hash of the previous checkpoint's
// statement, signed with Ed25519:
//
//	rack-gateway audit checkpoint v1
//	origin: gw.example.com
//	seq: 1000
//	head: 3f2a…(64 hex)
//	time: 2026-11-28T21:00:00.123456Z
//	prev: 9b1c…(64 hex, or "none" for the first)
//
// Because each statement names its predecessor, the anchored checkpoints
// form their own chain: removing or replacing one is visible in the next.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const header = "rack-gateway audit checkpoint v1"

// Statement is the content of a checkpoint.
type Statement struct {
	Origin string    // the gateway's name (config audit origin)
	Seq    int64     // the last event covered
	Head   []byte    // that event's chain hash
	Time   time.Time // when the checkpoint was made
	Prev   []byte    // SHA-256 of the previous statement's text; nil for the first
}

// Text renders s in its canonical, signed form.
func (s *Statement) Text() string {
	prev := "none"
	if s.Prev != nil {
		prev = hex.EncodeToString(s.Prev)
	}
	return fmt.Sprintf("%s\norigin: %s\nseq: %d\nhead: %s\ntime: %s\nprev: %s\n",
		header, s.Origin, s.Seq, hex.EncodeToString(s.Head), s.Time.UTC().Format(time.RFC3339Nano), prev)
}

// Hash is SHA-256 of a statement's text; the next statement's Prev.
func Hash(text string) []byte {
	h := sha256.Sum256([]byte(text))
	return h[:]
}

// Parse reads a statement's text, strictly: Parse(s.Text()) == s, and any
// other text is an error.
func Parse(text string) (*Statement, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 7 || lines[0] != header || lines[6] != "" {
		return nil, fmt.Errorf("checkpoint: not a v1 statement")
	}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+": ")
		if !ok {
			return "", fmt.Errorf("checkpoint: line %d: want %q", i+1, name)
		}
		return v, nil
	}
	var (
		s   Statement
		err error
		v   string
	)
	if s.Origin, err = field(1, "origin"); err != nil {
		return nil, err
	}
	if v, err = field(2, "seq"); err != nil {
		return nil, err
	}
	if s.Seq, err = strconv.ParseInt(v, 10, 64); err != nil || s.Seq < 1 {
		return nil, fmt.Errorf("checkpoint: bad seq %q", v)
	}
	if v, err = field(3, "head"); err != nil {
		return nil, err
	}
	if s.Head, err = hex.DecodeString(v); err != nil || len(s.Head) != sha256.Size {
		return nil, fmt.Errorf("checkpoint: bad head %q", v)
	}
	if v, err = field(4, "time"); err != nil {
		return nil, err
	}
	if s.Time, err = time.Parse(time.RFC3339Nano, v); err != nil {
		return nil, fmt.Errorf("checkpoint: bad time %q", v)
	}
	if v, err = field(5, "prev"); err != nil {
		return nil, err
	}
	if v != "none" {
		if s.Prev, err = hex.DecodeString(v); err != nil || len(s.Prev) != sha256.Size {
			return nil, fmt.Errorf("checkpoint: bad prev %q", v)
		}
	}
	if s.Text() != text {
		return nil, fmt.Errorf("checkpoint: statement not in canonical form")
	}
	return &s, nil
}

// SamePrev reports whether two Prev values are equal.
func SamePrev(a, b []byte) bool { return bytes.Equal(a, b) }
