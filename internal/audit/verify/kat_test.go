package verify_test

// A frozen end-to-end vector: a small JSONL export, as `rack-gateway audit
// export` wrote it, with its checkpoints, the anchors in a directory, and
// the public key (the test key of internal/audit/checkpoint/testdata), all
// checked in under testdata/frozen_v1/. Verification must keep accepting
// it, byte for byte, whatever else changes.
//
// THIS VECTOR IS FROZEN. It stands for the exports auditors hold and the
// anchors sitting in write-once storage. If a test here fails, the
// verifier (or the export reader, or an encoding under it) stopped accepting
// logs that deployed gateways wrote: fix the code. Regenerating it
// (kat_gen_test.go, -regenerate-frozen-vectors) to make a failure go away
// breaks every deployed log.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
)

const frozenDir = "testdata/frozen_v1"

func frozenPath(name string) string { return filepath.Join(filepath.FromSlash(frozenDir), name) }

func frozenKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	b, err := os.ReadFile(frozenPath("audit_public_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := checkpoint.ParsePublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func runExport(t *testing.T, path string, anchors checkpoint.Anchors, pub ed25519.PublicKey) *verify.Report {
	t.Helper()
	in, closer, err := verify.OpenExport(path, anchors, pub)
	if err != nil {
		t.Fatalf("OpenExport(%s): %v", path, err)
	}
	defer closer.Close()
	rep, err := verify.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("Run(%s): %v", path, err)
	}
	return rep
}

// The frozen export verifies against its anchors and key, with the counts
// it was made with.
func TestFrozenExportVerifies(t *testing.T) {
	pub := frozenKey(t)
	anchors := &dirAnchors{dir: frozenPath("anchors")}
	tests := []struct {
		file     string
		anchors  checkpoint.Anchors
		want     verify.Report // AnchorSource and Problem not compared
		anchored int
	}{
		// Events 1..12; checkpoints at 4 and 8 anchored, at 11 recorded
		// but not yet anchored; event 12 not yet covered.
		{"export.jsonl", anchors, verify.Report{Events: 12, FirstSeq: 1, LastSeq: 12, Checkpoints: 3, Anchored: 2,
			NewestAnchor: 8, UnverifiedEnd: 1}, 2},
		{"export.jsonl", nil, verify.Report{Events: 12, FirstSeq: 1, LastSeq: 12, Checkpoints: 3, UnverifiedEnd: 1}, 0},
		// A suffix (--since): events 5..12, resuming from the head of the
		// anchored checkpoint at 4.
		{"export_from_seq5.jsonl", anchors, verify.Report{Events: 8, FirstSeq: 5, LastSeq: 12, Checkpoints: 3,
			Anchored: 2, NewestAnchor: 8, UnverifiedEnd: 1}, 2},
	}
	for _, tt := range tests {
		rep := runExport(t, frozenPath(tt.file), tt.anchors, pub)
		if !rep.OK() {
			t.Fatalf("%s (anchors %v): the frozen export no longer verifies — deployed logs would fail too: %s",
				tt.file, tt.anchors != nil, rep.Verdict())
		}
		got := *rep
		got.AnchorSource, got.Problem = "", nil
		if got != tt.want {
			t.Fatalf("%s (anchors %v): report %+v, want %+v", tt.file, tt.anchors != nil, got, tt.want)
		}
		t.Logf("%s: %s", tt.file, rep.Verdict())
	}
}

// The vector is not vacuous: the same files fail when an event is changed,
// an anchor is missing, or the key is another.
func TestFrozenExportDetectsTampering(t *testing.T) {
	pub := frozenKey(t)
	anchors := &dirAnchors{dir: frozenPath("anchors")}
	orig := readLines(t, frozenPath("export.jsonl"))
	tmp := filepath.Join(t.TempDir(), "tampered.jsonl")

	lines := append([]string(nil), orig...)
	i := lineOfSeq(t, lines, 6)
	lines[i] = strings.Replace(lines[i], `"status":200`, `"status":201`, 1)
	if lines[i] == orig[i] {
		t.Fatal("event 6 has no status 200 to change")
	}
	writeLines(t, tmp, lines)
	checkReport(t, runExport(t, tmp, anchors, pub), nil, verify.Modified, 6)

	// Without the anchor of seq 8 (the export still says it was anchored).
	dir := t.TempDir()
	copyAnchors(t, frozenPath("anchors"), dir, checkpoint.AnchorKey(8))
	checkReport(t, runExport(t, frozenPath("export.jsonl"), &dirAnchors{dir: dir}, pub), nil, verify.AnchorMissing, 8)

	other, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, runExport(t, frozenPath("export.jsonl"), anchors, other), nil, verify.BadSignature, 4)
}

// Reading the frozen export and writing it back with the export writer
// gives the same bytes: the JSONL format is frozen too.
func TestFrozenExportRoundTrip(t *testing.T) {
	for _, name := range []string{"export.jsonl", "export_from_seq5.jsonl"} {
		want, err := os.ReadFile(frozenPath(name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := export.NewReader(bufio.NewReader(bytes.NewReader(want)))
		if err != nil {
			t.Fatal(err)
		}
		var evs []chain.Event
		for {
			var e chain.Event
			err := r.Next(&e)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
		var got bytes.Buffer
		w := export.NewJSONLWriter(&got)
		if err := w.WriteHeader(r.Header); err != nil {
			t.Fatal(err)
		}
		for i := range r.Checkpoints {
			if err := w.WriteCheckpoint(&r.Checkpoints[i]); err != nil {
				t.Fatal(err)
			}
		}
		for i := range evs {
			if err := w.WriteEvent(&evs[i], chain.SchemaVersion); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%s: the JSONL export format changed:\n got %s\nwant %s", name, got.Bytes(), want)
		}
	}
}

// lineOfSeq returns the index of the event line of seq.
func lineOfSeq(t *testing.T, lines []string, seq int64) int {
	t.Helper()
	for i, l := range lines {
		if strings.HasPrefix(l, `{"type":"event",`) && strings.Contains(l, `,"seq":`+strconv.FormatInt(seq, 10)+`,`) {
			return i
		}
	}
	t.Fatalf("no event line of seq %d", seq)
	return -1
}

// copyAnchors copies the anchor directory src to dst, leaving out skip.
func copyAnchors(t *testing.T, src, dst, skip string) {
	t.Helper()
	a := &dirAnchors{dir: src}
	keys, err := a.List(context.Background(), checkpoint.AnchorPrefix)
	if err != nil {
		t.Fatal(err)
	}
	b := &dirAnchors{dir: dst}
	for _, k := range keys {
		if k == skip {
			continue
		}
		data, err := a.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(context.Background(), k, data); err != nil {
			t.Fatal(err)
		}
	}
}
