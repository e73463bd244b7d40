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
//
// The signature is plain Ed25519 over the exact bytes of the statement text,
// so an auditor can check an anchor with OpenSSL 3 alone, without our code:
//
//	jq -j .statement anchor.json > statement.txt
//	jq -r .signature anchor.json | base64 -d > statement.sig
//	openssl pkeyutl -verify -pubin -inkey audit-public-key.pem -rawin \
//	    -in statement.txt -sigfile statement.sig
//
// The v1 text, its signature and the anchor object are frozen: see the
// known-answer vectors in testdata/ and kat_test.go.
//
// # Why not the C2SP signed-note / tlog-checkpoint format
//
// C2SP tlog-checkpoint (an origin line, the tree size, the base64 root
// hash, then "— <name> <base64(keyhash||sig)>" signature lines, as in
// golang.org/x/mod/sumdb/note) was considered as a v2 statement and
// rejected, for these reasons:
//
//   - Its third line is, by specification, the RFC 6962 Merkle tree hash of
//     the log's first N entries. Our head is the last link of a linear hash
//     chain, hash_n = SHA-256(hash_{n-1} || Canonical(event_n)). Emitting
//     it in that position would be a statement tools read as something it
//     is not: an off-the-shelf verifier that checks an inclusion or
//     consistency proof against it fails, or worse, is believed to have
//     checked something.
//   - The benefit that makes the format attractive — witness co-signatures
//     — needs consistency proofs: a witness (tlog-witness protocol) only
//     cosigns a checkpoint after verifying a Merkle consistency proof from
//     the last size it saw. A linear chain has no compact consistency proof
//     (the "proof" is every event in between), so no witness would cosign,
//     and the co-signatures would not come for free; they would need a
//     Merkle tree over the events first. Within one organisation, the
//     property witnesses give (no silent fork or rollback of what was
//     published) is what the Object Lock anchors already give, and the
//     "prev" line makes a removed or replaced anchor visible.
//   - Key ids: the anchor object already names the key (KeyID, 8 bytes of
//     SHA-256 of the public key, where a note's key hash has 4). Several
//     signatures per statement (key rotation, an external co-signer) can
//     be added to the anchor object without changing the signed text.
//   - Off-the-shelf verification already exists: the signature is raw
//     Ed25519 over the statement bytes (OpenSSL, above), the same primitive
//     a note signature is; a note adds an envelope, not verifiability.
//   - Cost: a second statement version the verifier must accept forever,
//     and a dependency in the auditor's trust path, for no property the
//     product lacks today.
//
// Revisit this if the chain gains a Merkle tree over event hashes (RFC 6962
// tiles next to the linear chain). Then a C2SP checkpoint — with the
// linear head and the previous statement's hash as extension lines — is
// the right v2: witnesses could cosign it and standard tlog tools could
// check inclusion proofs for single events. A statement's first line names
// its version, so a v2 parser would sit next to Parse (the verifier picking
// by that line), and anchored v1 checkpoints would keep verifying.
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
