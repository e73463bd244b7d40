package checkpoint_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/anchor/anchortest"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// With S3 down, checkpoints keep being made and nothing is lost; once it is
// back, every checkpoint is anchored, in order, each linked to the last.
func TestRunnerS3DownThenBack(t *testing.T) {
	srv := anchortest.Start(t)
	ctx := context.Background()
	bucket := srv.Bucket(true)
	s3a, err := anchor.NewS3(ctx, anchor.S3Config{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: bucket,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: true, RetentionDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	// The runner's clock is fake: its anchoring backoff passes when the
	// test says so, not after real seconds of polling.
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	r := &checkpoint.Runner{Store: st, Signer: &checkpoint.Signer{Key: key, Origin: "test"}, Anchors: s3a,
		Every: 10, Interval: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk}
	appendN := func(n int) {
		evs := make([]*chain.Event, n)
		for i := range evs {
			evs[i] = &chain.Event{Action: "a", Decision: "allow"}
		}
		if err := st.AppendAudit(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	appendN(10)
	if err := r.Tick(ctx, false); err != nil {
		t.Fatalf("tick with S3 up: %v", err)
	}
	srv.Stop()
	failures := 0
	for range 3 {
		appendN(10)
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := r.Tick(tctx, false); err != nil {
			failures++ // later ticks wait out the backoff quietly
		}
		cancel()
	}
	if failures != 1 {
		t.Errorf("%d ticks reported S3 down, want 1: the others fall within the backoff", failures)
	}
	if through, lastErr := r.Status(); through != 10 || lastErr == nil {
		t.Fatalf("while down: anchored through %d, last error %v", through, lastErr)
	}
	cps, _ := st.ListCheckpoints(ctx, 0)
	if len(cps) != 4 {
		t.Fatalf("%d checkpoints made while S3 was down, want 4", len(cps))
	}
	srv.Restart() // returns once the server answers
	// The runner backs off: a tick within the backoff does not try S3...
	clk.Advance(500 * time.Millisecond)
	if err := r.Tick(ctx, false); err != nil {
		t.Fatalf("tick within the backoff: %v", err)
	}
	if through, lastErr := r.Status(); through != 10 || lastErr == nil {
		t.Fatalf("within the backoff: anchored through %d, last error %v", through, lastErr)
	}
	// ...and the first tick after it anchors every checkpoint.
	clk.Advance(time.Second)
	if err := r.Tick(ctx, false); err != nil {
		t.Fatalf("tick after the backoff, S3 back: %v", err)
	}
	if through, lastErr := r.Status(); through != 40 || lastErr != nil {
		t.Fatalf("checkpoints not anchored after S3 came back: anchored through %d, last error %v", through, lastErr)
	}
	keys, err := s3a.List(ctx, checkpoint.AnchorPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != fmt.Sprint([]string{checkpoint.AnchorKey(10), checkpoint.AnchorKey(20), checkpoint.AnchorKey(30), checkpoint.AnchorKey(40)}) {
		t.Fatalf("anchors = %v", keys)
	}
	var prev string
	for _, k := range keys {
		data, _ := s3a.Get(ctx, k)
		a, err := checkpoint.DecodeAnchor(data)
		if err != nil {
			t.Fatal(err)
		}
		s, err := checkpoint.Verify(key.Public().(ed25519.PublicKey), a.Statement, a.Signature)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if prev != "" && !checkpoint.SamePrev(s.Prev, checkpoint.Hash(prev)) {
			t.Fatalf("%s does not link to the previous anchor", k)
		}
		prev = a.Statement
	}
	cps, _ = st.ListCheckpoints(ctx, 0)
	for _, c := range cps {
		if c.AnchoredAt.IsZero() {
			t.Errorf("checkpoint %d not marked anchored", c.Seq)
		}
	}
}
