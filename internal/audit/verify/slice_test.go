package verify_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
)

// An export bounded in time is an unbroken run of the chain that verifies
// on its own, although checkpoints (anchored ones too) lie after its end
// and event times are only nearly in chain order (replicas' clocks); a
// file cut short, or one whose last events were dropped and its end line
// rewritten to match, is caught or reports only what it holds.
func TestTimeBoundedExportIsAVerifiableSlice(t *testing.T) {
	ctx := context.Background()
	st, _ := backends[0].open(t)
	key := newKey(t)
	anchors := &dirAnchors{dir: t.TempDir()}
	pub := key.Public().(ed25519.PublicKey)
	r := &checkpoint.Runner{Store: st, Signer: &checkpoint.Signer{Key: key, Origin: "test"}, Anchors: anchors,
		Every: 50, Interval: time.Hour, Log: slog.New(slog.DiscardHandler)}
	// Events 1..300, event i stamped baseTime+i s, except seq 120, stamped
	// before the range below, and seq 181, stamped after it; a checkpoint
	// (anchored) after every 50.
	for from := 1; from <= 300; from += 50 {
		evs := make([]*chain.Event, 50)
		for i := range evs {
			evs[i] = mkEvent(from + i)
			switch from + i {
			case 120:
				evs[i].Time = baseTime.Add(10 * time.Second)
			case 181:
				evs[i].Time = baseTime.Add(999 * time.Second)
			}
		}
		if err := st.AppendAudit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := r.Tick(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	since, until := baseTime.Add(101*time.Second), baseTime.Add(201*time.Second) // events 101..200
	path := filepath.Join(t.TempDir(), "slice.jsonl")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := export.Write(ctx, st, out, export.Options{Format: "jsonl", Since: since, Until: until}); err != nil {
		t.Fatal(err)
	}
	out.Close()

	run := func(path string) *verify.Report {
		t.Helper()
		in, f, err := verify.OpenExport(path, anchors, pub)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := verify.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(path)
	// 101..200 in full: seq 120 (stamped earlier) is inside the run, seq 181
	// (stamped later) too; nothing after 200 although its time is in range.
	if !rep.OK() || rep.FirstSeq != 101 || rep.LastSeq != 200 || rep.Events != 100 || !rep.Slice || rep.UnverifiedEnd != 0 {
		t.Fatalf("slice: %+v %s", rep, rep.Verdict())
	}
	if !strings.Contains(rep.Verdict(), "slice of the log ending at seq 200") {
		t.Errorf("verdict %q", rep.Verdict())
	}

	lines := readLines(t, path)
	if !strings.Contains(lines[len(lines)-1], `"type":"end","last_seq":200,"events":100`) {
		t.Fatalf("last line %q", lines[len(lines)-1])
	}
	cut := filepath.Join(t.TempDir(), "cut.jsonl")
	writeLines(t, cut, lines[:len(lines)-1]) // the end line lost
	if rep := run(cut); rep.OK() || rep.Problem.Kind != verify.Truncated {
		t.Errorf("cut short: %s", rep.Verdict())
	}
	writeLines(t, cut, append(append([]string{}, lines[:len(lines)-11]...), lines[len(lines)-1])) // ten events dropped, end line kept
	if rep := run(cut); rep.OK() || rep.Problem.Kind != verify.Truncated {
		t.Errorf("events dropped: %s", rep.Verdict())
	}
	// Dropping events and rewriting the end line to match leaves a shorter
	// slice that says so: its last seq is what was kept.
	rewritten := append(append([]string{}, lines[:len(lines)-11]...), `{"type":"end","last_seq":190,"events":90}`+"\n")
	writeLines(t, cut, rewritten)
	if rep := run(cut); !rep.OK() || rep.LastSeq != 190 {
		t.Errorf("shorter slice: %s", rep.Verdict())
	}
	// The header's Until is what makes a slice: without it the file must
	// reach the newest checkpoint, as a whole export does.
	noUntil := append([]string{strings.Replace(lines[0], `"until":`, `"until_was":`, 1)}, lines[1:]...)
	writeLines(t, cut, noUntil)
	if rep := run(cut); rep.OK() || rep.Problem.Kind != verify.Truncated {
		t.Errorf("without until: %s", rep.Verdict())
	}
}
