package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// TestLiveDatabase tampers with the real database (after removing the
// append-only triggers, as an attacker would) and with the anchor store,
// and checks the first problem reported.
func TestLiveDatabase(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		kind   verify.Kind // "" = OK
		seq    int64
	}{
		{name: "untouched", tamper: func(*testing.T, *fixture) {}},
		{name: "modify event", kind: verify.Modified, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 120`)
		}},
		{name: "modify details", kind: verify.Modified, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET details = '{"keys":["A"]}' WHERE seq = 120`)
		}},
		{name: "modify tail event", kind: verify.Modified, seq: 310, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET decision = 'allow', status = 200 WHERE seq = 310`)
		}},
		{name: "modify and rehash", kind: verify.Rewritten, seq: 101, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 120`)
			f.rehashFrom(t, 120)
		}},
		{name: "rehash checkpointed event", kind: verify.Rewritten, seq: 101, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 150`)
			f.rehashFrom(t, 150)
		}},
		{name: "delete event", kind: verify.Missing, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq = 120`)
		}},
		{name: "delete range", kind: verify.Missing, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq >= 120 AND seq < 130`)
		}},
		{name: "delete prefix", kind: verify.Missing, seq: 101, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq <= 120`)
		}},
		{name: "delete first event", kind: verify.Missing, seq: 1, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq = 1`)
		}},
		{name: "swap adjacent", kind: verify.Reordered, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.swapSeqs(t, 120, 121)
		}},
		{name: "swap distant", kind: verify.Reordered, seq: 120, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.swapSeqs(t, 120, 130)
		}},
		{name: "insert forged", kind: verify.Inserted, seq: 201, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.insertForged(t, 200)
		}},
		{name: "truncate tail", kind: verify.Truncated, seq: 151, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq > 150`)
		}},
		{name: "truncate tail and checkpoints", kind: verify.Truncated, seq: 151, tamper: func(t *testing.T, f *fixture) {
			// The anchors still hold the later checkpoints.
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq > 150`)
			f.exec(t, `DELETE FROM audit_checkpoints WHERE seq > 150`)
		}},
		{name: "delete all events", kind: verify.Truncated, seq: 1, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events`)
		}},
		{name: "replace middle anchor", kind: verify.AnchorMissing, seq: 200, tamper: func(t *testing.T, f *fixture) {
			// Signed by the right key, a different head, correctly chained
			// to the anchor before: the next anchor no longer follows it.
			c := forgeCheckpoint(f.key, 150, fakeHead("forged"), f.checkpoint(t, 100).Statement)
			f.anchors.overwrite(t, 150, checkpoint.EncodeAnchor(c, checkpoint.KeyID(f.pub)))
		}},
		{name: "replace newest anchor", kind: verify.CheckpointMismatch, seq: 300, tamper: func(t *testing.T, f *fixture) {
			c := forgeCheckpoint(f.key, 300, fakeHead("forged"), f.checkpoint(t, 250).Statement)
			f.anchors.overwrite(t, 300, checkpoint.EncodeAnchor(c, checkpoint.KeyID(f.pub)))
		}},
		{name: "replace newest anchor and db checkpoint", kind: verify.Rewritten, seq: 251, tamper: func(t *testing.T, f *fixture) {
			c := forgeCheckpoint(f.key, 300, fakeHead("forged"), f.checkpoint(t, 250).Statement)
			f.anchors.overwrite(t, 300, checkpoint.EncodeAnchor(c, checkpoint.KeyID(f.pub)))
			f.unguard(t)
			f.exec(t, `UPDATE audit_checkpoints SET statement = ?, signature = ? WHERE seq = 300`, c.Statement, c.Signature)
		}},
		{name: "update db checkpoint statement", kind: verify.CheckpointMismatch, seq: 150, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			st := f.checkpoint(t, 150).Statement
			f.exec(t, `UPDATE audit_checkpoints SET statement = ? WHERE seq = 150`, strings.Replace(st, "origin: test", "origin: evil", 1))
		}},
		{name: "re-sign db checkpoint", kind: verify.CheckpointMismatch, seq: 150, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			c := forgeCheckpoint(f.key, 150, fakeHead("forged"), f.checkpoint(t, 100).Statement)
			f.exec(t, `UPDATE audit_checkpoints SET statement = ?, signature = ? WHERE seq = 150`, c.Statement, c.Signature)
		}},
		{name: "delete middle anchor", kind: verify.AnchorMissing, seq: 200, tamper: func(t *testing.T, f *fixture) {
			f.anchors.remove(t, 150)
		}},
		{name: "delete newest anchor", kind: verify.AnchorMissing, seq: 300, tamper: func(t *testing.T, f *fixture) {
			f.anchors.remove(t, 300)
		}},
		{name: "re-sign everything with another key", kind: verify.BadSignature, seq: 50, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			other := newKey(t)
			prevText := ""
			for seq := int64(cpEvery); seq <= lastCP; seq += cpEvery {
				old := f.checkpoint(t, seq)
				st, err := checkpoint.Parse(old.Statement)
				if err != nil {
					t.Fatal(err)
				}
				c := forgeCheckpoint(other, seq, st.Head, prevText)
				prevText = c.Statement
				f.anchors.overwrite(t, seq, checkpoint.EncodeAnchor(c, checkpoint.KeyID(other.Public().(ed25519.PublicKey))))
				f.exec(t, `UPDATE audit_checkpoints SET statement = ?, signature = ? WHERE seq = ?`, c.Statement, c.Signature, seq)
			}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f := newFixture(t, b)
					tc.tamper(t, f)
					rep, err := verify.Run(context.Background(), f.liveInput(t))
					checkReport(t, rep, err, tc.kind, tc.seq)
					if tc.kind == "" {
						if rep.Events != fixtureEvents || rep.FirstSeq != 1 || rep.LastSeq != fixtureEvents ||
							rep.Checkpoints != lastCP/cpEvery || rep.Anchored != lastCP/cpEvery ||
							rep.NewestAnchor != lastCP || rep.UnverifiedEnd != fixtureEvents-lastCP {
							t.Fatalf("report %+v", rep)
						}
						t.Log(rep.Verdict())
					}
				})
			}
		})
	}
}

// TestExport verifies a JSONL export and line edits of it.
func TestExport(t *testing.T) {
	// Lines: 0 header, seq N at line N, then the checkpoint lines.
	editEvent := func(t *testing.T, line string, fn func(*export.Event)) string {
		var ev export.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		fn(&ev)
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	cases := []struct {
		name      string
		edit      func(t *testing.T, f *fixture, lines []string) []string
		noAnchors bool
		kind      verify.Kind
		seq       int64
	}{
		{name: "untouched", edit: func(_ *testing.T, _ *fixture, l []string) []string { return l }},
		{name: "untouched without anchors", noAnchors: true, edit: func(_ *testing.T, _ *fixture, l []string) []string { return l }},
		{name: "change field", kind: verify.Modified, seq: 120, edit: func(t *testing.T, _ *fixture, l []string) []string {
			l[120] = editEvent(t, l[120], func(e *export.Event) { e.Actor = "mallory@example.com" })
			return l
		}},
		{name: "change time", kind: verify.Modified, seq: 120, edit: func(t *testing.T, _ *fixture, l []string) []string {
			l[120] = editEvent(t, l[120], func(e *export.Event) { e.Time = "2020-01-01T00:00:00Z" })
			return l
		}},
		{name: "delete line", kind: verify.Missing, seq: 120, edit: func(_ *testing.T, _ *fixture, l []string) []string {
			return append(l[:120:120], l[121:]...)
		}},
		{name: "swap lines", kind: verify.Reordered, seq: 120, edit: func(_ *testing.T, _ *fixture, l []string) []string {
			l[120], l[121] = l[121], l[120]
			return l
		}},
		{name: "insert forged line with duplicate seq", kind: verify.Inserted, seq: 121, edit: func(t *testing.T, _ *fixture, l []string) []string {
			// A forged seq 121 correctly chained to 120, before the real 121.
			var prev export.Event
			if err := json.Unmarshal([]byte(l[120]), &prev); err != nil {
				t.Fatal(err)
			}
			forged := editEvent(t, l[121], func(e *export.Event) {
				e.Actor = "mallory@example.com"
				var se chain.Event
				if err := e.ToStore(&se); err != nil {
					t.Fatal(err)
				}
				var ps chain.Event
				if err := prev.ToStore(&ps); err != nil {
					t.Fatal(err)
				}
				var h chain.Hasher
				e.Hash = hex.EncodeToString(h.Next(ps.Hash, &se))
			})
			out := append(l[:121:121], forged)
			return append(out, l[121:]...)
		}},
		{name: "insert duplicate line", kind: verify.Inserted, seq: 120, edit: func(_ *testing.T, _ *fixture, l []string) []string {
			out := append(l[:121:121], l[120])
			return append(out, l[121:]...)
		}},
		{name: "truncate events keep checkpoints", kind: verify.Truncated, seq: 151, edit: func(_ *testing.T, _ *fixture, l []string) []string {
			return append(l[:151:151], l[fixtureEvents+1:]...)
		}},
		{name: "truncate file", kind: verify.Truncated, seq: 151, edit: func(_ *testing.T, _ *fixture, l []string) []string {
			return l[:151]
		}},
		{name: "truncate events keep checkpoints without anchors", noAnchors: true, kind: verify.Truncated, seq: 151,
			edit: func(_ *testing.T, _ *fixture, l []string) []string {
				return append(l[:151:151], l[fixtureEvents+1:]...)
			}},
		{name: "header prev_hash changed", kind: verify.Rewritten, seq: 1, edit: func(t *testing.T, _ *fixture, l []string) []string {
			l[0] = strings.Replace(l[0], hex.EncodeToString(chain.Genesis()), hex.EncodeToString(fakeHead("x")), 1)
			return l
		}},
		{name: "suffix export from a checkpoint", edit: func(t *testing.T, _ *fixture, l []string) []string {
			// Lines 1..100 dropped, first_seq 101, prev_hash not given:
			// verified from the signed head of the checkpoint at 100.
			l[0] = strings.Replace(strings.Replace(l[0], hex.EncodeToString(chain.Genesis()), "", 1), `"first_seq":1,`, `"first_seq":101,`, 1)
			return append(l[:1:1], l[101:]...)
		}},
		{name: "suffix export with a line deleted", kind: verify.Missing, seq: 101, edit: func(t *testing.T, _ *fixture, l []string) []string {
			l[0] = strings.Replace(strings.Replace(l[0], hex.EncodeToString(chain.Genesis()), "", 1), `"first_seq":1,`, `"first_seq":101,`, 1)
			return append(l[:1:1], l[102:]...)
		}},
		{name: "change checkpoint line", kind: verify.CheckpointMismatch, seq: 150, edit: func(t *testing.T, f *fixture, l []string) []string {
			i := fixtureEvents + 3 // checkpoints 50, 100, 150
			var c export.Checkpoint
			if err := json.Unmarshal([]byte(l[i]), &c); err != nil || c.Seq != 150 {
				t.Fatalf("line %d: %v %d", i, err, c.Seq)
			}
			forged := forgeCheckpoint(f.key, 150, fakeHead("forged"), f.checkpoint(t, 100).Statement)
			c.Statement, c.Signature = forged.Statement, forged.Signature
			b, _ := json.Marshal(c)
			l[i] = string(b) + "\n"
			return l
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			orig := filepath.Join(t.TempDir(), "export.jsonl")
			f.writeExport(t, orig)
			if n := len(readLines(t, orig)); n != 1+fixtureEvents+lastCP/cpEvery {
				t.Fatalf("export has %d lines", n)
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "edited.jsonl")
					// The cases index event lines by seq: edit in an events-first
					// layout, then put the checkpoint lines back after the header.
					writeLines(t, path, checkpointsFirst(tc.edit(t, f, checkpointsLast(readLines(t, orig)))))
					var anchors checkpoint.Anchors = f.anchors
					if tc.noAnchors {
						anchors = nil
					}
					in, err := exportInput(path, anchors, f.pub)
					if err != nil {
						t.Fatal(err)
					}
					rep, err := verify.Run(context.Background(), in)
					checkReport(t, rep, err, tc.kind, tc.seq)
					if tc.kind == "" && (rep.Events != fixtureEvents-rep.FirstSeq+1 || rep.UnverifiedEnd != fixtureEvents-lastCP) {
						t.Fatalf("report %+v", rep)
					}
				})
			}
		})
	}
}

// TestPruned prunes through an anchored checkpoint: the remaining suffix
// verifies from the prune checkpoint's head, and tampering with it is still
// caught.
func TestPruned(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		kind   verify.Kind
		seq    int64
	}{
		{name: "untouched", tamper: func(*testing.T, *fixture) {}},
		{name: "modify first remaining", kind: verify.Modified, seq: 151, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 151`)
		}},
		{name: "delete first remaining", kind: verify.Missing, seq: 151, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `DELETE FROM audit_events WHERE seq = 151`)
		}},
		{name: "rehash from first remaining", kind: verify.Rewritten, seq: 151, tamper: func(t *testing.T, f *fixture) {
			f.unguard(t)
			f.exec(t, `UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 160`)
			f.rehashFrom(t, 160)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f := newFixture(t, b)
					n, err := f.st.PruneAudit(context.Background(), 150)
					if err != nil || n != 150 {
						t.Fatalf("prune: %d, %v", n, err)
					}
					tc.tamper(t, f)
					in := f.liveInput(t)
					if len(in.Checkpoints) != 4 || in.Checkpoints[0].Seq != 150 {
						t.Fatalf("checkpoints after prune: %d", len(in.Checkpoints))
					}
					rep, err := verify.Run(context.Background(), in)
					checkReport(t, rep, err, tc.kind, tc.seq)
					if tc.kind == "" {
						if rep.FirstSeq != 151 || rep.LastSeq != fixtureEvents || rep.Events != fixtureEvents-150 {
							t.Fatalf("report %+v", rep)
						}
						t.Log(rep.Verdict())
						// The export written by `rack-gateway audit export`
						// verifies too.
						path := filepath.Join(t.TempDir(), "pruned.jsonl")
						writePackageExport(t, f.st, path)
						in, err := exportInput(path, f.anchors, f.pub)
						if err != nil {
							t.Fatal(err)
						}
						rep, err := verify.Run(context.Background(), in)
						checkReport(t, rep, err, "", 0)
						if rep.FirstSeq != 151 || rep.Events != fixtureEvents-150 {
							t.Fatalf("export report %+v", rep)
						}
					}
				})
			}
		})
	}
}

// writePackageExport writes the export as `rack-gateway audit export` does.
func writePackageExport(t *testing.T, st store.Store, path string) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := export.Write(context.Background(), st, out, export.Options{Format: "jsonl"}); err != nil {
		t.Fatal(err)
	}
}

// checkpointsLast moves checkpoint lines to the end, so line i is event i.
func checkpointsLast(l []string) []string {
	out, cps := []string{l[0]}, []string{}
	for _, x := range l[1:] {
		if strings.Contains(x, `"type":"checkpoint"`) {
			cps = append(cps, x)
		} else {
			out = append(out, x)
		}
	}
	return append(out, cps...)
}

// checkpointsFirst is the layout `audit export` writes: header, checkpoints,
// events.
func checkpointsFirst(l []string) []string {
	if len(l) == 0 {
		return l
	}
	out, evs := []string{l[0]}, []string{}
	for _, x := range l[1:] {
		if strings.Contains(x, `"type":"checkpoint"`) {
			out = append(out, x)
		} else {
			evs = append(evs, x)
		}
	}
	return append(out, evs...)
}
