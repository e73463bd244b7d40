package checkpoint_test

// The generator of the frozen vectors checked by kat_test.go. It never runs
// by default: it is skipped unless the test binary gets
// -regenerate-frozen-vectors, and it refuses to overwrite an existing file
// unless -regenerate-frozen-vectors-overwrite is given too.
//
// Overwriting these vectors means declaring a new checkpoint format while
// anchors in the old one sit in write-once storage: every deployed log
// breaks. Do not do that to make a failing test pass. The generator exists
// to write the vectors of a NEW statement version (into new files) and to
// document how the existing ones were made.
//
//	go test ./internal/audit/checkpoint -run TestRegenerateFrozenVectors -regenerate-frozen-vectors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

func writeFrozen(t *testing.T, rel string, data []byte) {
	testutil.WriteFrozen(t, filepath.Join("testdata", filepath.FromSlash(rel)), data)
}

// katSeed is the public test key's seed: bytes 00 01 … 1f.
func katSeed() []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return seed
}

func TestRegenerateFrozenVectors(t *testing.T) {
	if !testutil.RegenerateFrozen() {
		t.Skip("generator of the frozen vectors; runs only with -regenerate-frozen-vectors (see kat_gen_test.go)")
	}
	key := ed25519.NewKeyFromSeed(katSeed())
	pub := key.Public().(ed25519.PublicKey)
	keyID := checkpoint.KeyID(pub)
	head := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

	var f statementFile
	f.Comment = "FROZEN known-answer vectors of the v1 checkpoint statement, its Ed25519 signature under the " +
		"public TEST key below (seed 00..1f; never use it for anything else) and the anchor object. Changing " +
		"them breaks every deployed audit log; see internal/audit/checkpoint/kat_test.go."
	f.Key.Seed = hex.EncodeToString(katSeed())
	f.Key.PublicKey = base64.StdEncoding.EncodeToString(pub)
	f.Key.KeyID = keyID
	f.Key.PEMFile = "kat_public_key.pem"
	writeFrozen(t, f.Key.PEMFile, checkpoint.MarshalPublicKey(pub))

	prevs := map[string]*store.Checkpoint{}
	add := func(name, about, origin string, seq int64, headHash []byte, now, prev string) {
		tm, err := time.Parse(time.RFC3339Nano, now)
		if err != nil {
			t.Fatal(err)
		}
		s := &checkpoint.Signer{Key: key, Origin: origin, Now: func() time.Time { return tm }}
		c, err := s.Make(prevs[prev], seq, headHash)
		if err != nil || c == nil {
			t.Fatalf("%s: %v", name, err)
		}
		prevs[name] = c
		v := statementVector{Name: name, About: about, Origin: origin, Seq: seq, Head: hex.EncodeToString(headHash),
			Now: now, Prev: prev, Statement: c.Statement, StatementSHA256: hex.EncodeToString(checkpoint.Hash(c.Statement)),
			Signature: base64.StdEncoding.EncodeToString(c.Signature), CreatedAt: c.CreatedAt.Format(time.RFC3339Nano),
			AnchorKey: checkpoint.AnchorKey(seq), AnchorFile: "anchors/" + name + ".json"}
		writeFrozen(t, v.AnchorFile, checkpoint.EncodeAnchor(c, keyID))
		f.Vectors = append(f.Vectors, v)
	}
	add("first", "the first checkpoint of a log: prev is none", "gw.example.com", 1000,
		head("head-1000"), "2026-11-28T21:00:00.123456Z", "")
	add("second", "links to first by the SHA-256 of its text; the clock's nanoseconds and zone are normalized "+
		"to UTC microseconds", "gw.example.com", 2000, head("head-2000"), "2026-11-28T22:01:00.123456789+01:00", "first")
	add("whole_second", "a time on a whole second has no fraction; a fraction loses its trailing zeros",
		"gw.example.com", 2001, head("head-2001"), "2026-11-28T21:02:00Z", "second")
	add("trailing_zeros", "100 ms is written .1", "gw.example.com", 2500, head("head-2500"),
		"2026-11-28T21:03:00.100000Z", "whole_second")
	add("non_ascii_origin", "an origin beyond ASCII is written as its UTF-8 bytes", "gw-ü.例え.example", 1,
		head("head-1"), "2027-01-01T00:00:00.000001Z", "")
	add("max_seq", "the largest sequence number", "gw.example.com", 1<<63-1, bytes.Repeat([]byte{0xff}, 32),
		"2099-12-31T23:59:59.999999Z", "")

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&f); err != nil {
		t.Fatal(err)
	}
	writeFrozen(t, "statements_v1.json", b.Bytes())
}
