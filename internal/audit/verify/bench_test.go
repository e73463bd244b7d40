package verify_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// The 1M-event benchmarks build their chain once per process (in a
// temporary directory removed by TestMain), or once and for all in
// $RGW_VERIFY_BENCH_DIR if set. Only `go test -bench` builds it.
const (
	benchEvents = 1_000_000
	benchBatch  = 1000 // AppendAudit batch, and events per checkpoint
)

var (
	benchOnce    sync.Once
	benchDir     string
	benchTempDir string
	benchErr     error
	benchKey     = ed25519.NewKeyFromSeed([]byte("rack-gateway verify benchmark k1"))
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTempDir != "" {
		os.RemoveAll(benchTempDir)
	}
	os.Exit(code)
}

// benchChain returns the directory holding gw.db, anchors/ and
// export.jsonl for the 1M-event chain.
func benchChain(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir = os.Getenv("RGW_VERIFY_BENCH_DIR")
		if benchDir == "" {
			benchDir, benchErr = os.MkdirTemp("", "rgw-verify-bench-")
			benchTempDir = benchDir
		}
		if benchErr == nil {
			benchErr = buildBenchChain(b, benchDir)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

func buildBenchChain(b *testing.B, dir string) error {
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	ctx := context.Background()
	if err := os.RemoveAll(filepath.Join(dir, "anchors")); err != nil {
		return err
	}
	for _, f := range []string{"gw.db", "gw.db-wal", "gw.db-shm", "export.jsonl"} {
		os.Remove(filepath.Join(dir, f))
	}
	st, err := sqlite.Open(filepath.Join(dir, "gw.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	anchors := &dirAnchors{dir: filepath.Join(dir, "anchors")}
	signer := &checkpoint.Signer{Key: benchKey, Origin: "bench"}
	evs := make([]*chain.Event, benchBatch)
	for n := 0; n < benchEvents; n += benchBatch {
		for i := range evs {
			evs[i] = mkEvent(n + i + 1)
		}
		if err := st.AppendAudit(ctx, evs); err != nil {
			return err
		}
		c, err := st.AddCheckpoint(ctx, signer.Make)
		if err != nil {
			return err
		}
		if err := anchors.Put(ctx, checkpoint.AnchorKey(c.Seq), checkpoint.EncodeAnchor(c, signer.KeyID())); err != nil {
			return err
		}
		if err := st.MarkAnchored(ctx, c.Seq, c.CreatedAt); err != nil {
			return err
		}
	}
	writeExport(b, st, filepath.Join(dir, "export.jsonl"))
	return os.WriteFile(done, nil, 0o644)
}

func runBench(b *testing.B, in func() verify.Input) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := verify.Run(context.Background(), in())
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Events != benchEvents || rep.Anchored != benchEvents/benchBatch {
			b.Fatalf("%s", rep.Verdict())
		}
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify1M verifies a 1,000,000-event SQLite database against
// 1,000 anchored checkpoints.
func BenchmarkVerify1M(b *testing.B) {
	dir := benchChain(b)
	st, err := sqlite.Open(filepath.Join(dir, "gw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	anchors := &dirAnchors{dir: filepath.Join(dir, "anchors")}
	pub := benchKey.Public().(ed25519.PublicKey)
	runBench(b, func() verify.Input {
		cps, err := st.ListCheckpoints(context.Background(), 0)
		if err != nil {
			b.Fatal(err)
		}
		return verify.Input{
			Scan: func(ctx context.Context, fn func(*chain.Event) error) error {
				return st.ScanAudit(ctx, 0, fn)
			},
			Checkpoints: cps, Anchors: anchors, PublicKey: pub,
		}
	})
}

// BenchmarkVerifyExport1M verifies a JSONL export of the same chain (both
// passes over the file, as the CLI does).
func BenchmarkVerifyExport1M(b *testing.B) {
	dir := benchChain(b)
	anchors := &dirAnchors{dir: filepath.Join(dir, "anchors")}
	pub := benchKey.Public().(ed25519.PublicKey)
	runBench(b, func() verify.Input {
		in, err := exportInput(filepath.Join(dir, "export.jsonl"), anchors, pub)
		if err != nil {
			b.Fatal(err)
		}
		return in
	})
}
