// Command auditgen fills a gateway database with N realistic audit events,
// for measuring the audit log at scale (bench/audit10m.sh).
//
// The events go through the real write path: store.AppendAudit links them
// into the hash chain, and the gateway's checkpoint.Runner signs a
// checkpoint every -checkpoint-every events and anchors it in a directory,
// so `rack-gateway audit verify --config DIR/config.json` accepts the result.
// Actors (~200 people, 30 CI tokens), apps (50 on 3 racks), actions (the
// route table, weighted), ~3% denials with real reason codes and details are
// drawn from a seeded generator, so a run is reproducible.
//
//	auditgen -db sqlite:/tmp/a/gateway.db -n 1000000 -span 8760h
//	auditgen -db postgres://... -keys /tmp/pg -n 10000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/trail"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("auditgen", flag.ContinueOnError)
	dsn := fl.String("db", "", "database: sqlite:PATH (or a path) or postgres://DSN")
	keys := fl.String("keys", "", "`dir` for the audit keys, anchors and config.json (default: the SQLite file's directory)")
	n := fl.Int64("n", 1_000_000, "number of events")
	span := fl.Duration("span", 365*24*time.Hour, "time the events are spread over")
	endFlag := fl.String("end", "2026-06-01T00:00:00Z", "time of the newest event (RFC 3339)")
	seed := fl.Uint64("seed", 1, "random seed")
	every := fl.Int64("checkpoint-every", 1000, "sign a checkpoint every this many events (the gateway's default)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dsn == "" || *n <= 0 || *every <= 0 || *span <= 0 {
		fl.Usage()
		return errors.New("-db is required; -n, -span and -checkpoint-every must be positive")
	}
	if !strings.Contains(*dsn, ":") {
		*dsn = "sqlite:" + *dsn
	}
	end, err := time.Parse(time.RFC3339, *endFlag)
	if err != nil {
		return fmt.Errorf("-end: %w", err)
	}
	backend, target, err := storeopen.Parse(*dsn)
	if err != nil {
		return err
	}
	if *keys == "" {
		if backend != storeopen.SQLite {
			return errors.New("-keys DIR is required for PostgreSQL")
		}
		*keys = filepath.Dir(target)
	}
	if err := os.MkdirAll(*keys, 0o700); err != nil {
		return err
	}
	// The same layout as a dev data directory, named by a config file that
	// the audit verbs read with --config.
	cfg := &config.Config{DatabaseURL: *dsn, Audit: config.DevAudit(*keys)}
	cfg.Audit.Origin = "auditgen"
	if err := writeConfig(filepath.Join(*keys, "config.json"), cfg); err != nil {
		return err
	}
	tr, err := trail.Open(ctx, gateway.TrailConfig(cfg.Audit), trail.Options{CreateKeys: true, NeedSigner: true, NeedHMAC: true, NeedAnchors: true})
	if err != nil {
		return err
	}
	st, err := storeopen.Open(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("database %s: %w", store.RedactDSN(*dsn), err)
	}
	defer st.Close()
	if head, _, err := st.AuditHead(ctx); err != nil {
		return err
	} else if head != 0 {
		return fmt.Errorf("the database already holds %d audit events; give an empty one", head)
	}

	m := newModel(*seed, tr.HMACKey, end.Add(-*span), *span, *n)
	// Checkpoint statements carry the time of the head they sign, as if
	// the gateway had signed them then.
	signer := *tr.Signer
	signer.Now = func() time.Time { return m.t }
	runner := &checkpoint.Runner{Store: st, Signer: &signer, Anchors: tr.Anchors, Every: *every,
		Interval: 100 * 365 * 24 * time.Hour, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}

	start := time.Now()
	batch := make([]*chain.Event, 0, *every)
	var done int64
	for done < *n {
		batch = batch[:0]
		for k := min(*every, *n-done); k > 0; k-- {
			batch = append(batch, m.next())
		}
		if err := st.AppendAudit(ctx, batch); err != nil {
			return err
		}
		done += int64(len(batch))
		if err := runner.Tick(ctx, false); err != nil {
			return err
		}
		if done%1_000_000 == 0 || done == *n {
			el := time.Since(start)
			fmt.Fprintf(os.Stderr, "auditgen: %d events in %s (%.0f/s)\n", done, el.Round(time.Second), float64(done)/el.Seconds())
		}
	}
	if err := runner.Tick(ctx, true); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "auditgen: done: %d events, %s, config %s\n", done, time.Since(start).Round(time.Second),
		filepath.Join(*keys, "config.json"))
	return nil
}

// writeConfig writes the database and audit settings for the audit verbs
// (mode 0600: a PostgreSQL DSN may hold a password).
func writeConfig(path string, c *config.Config) error {
	b, err := json.MarshalIndent(map[string]any{"database_url": c.DatabaseURL, "audit": map[string]any{
		"origin": c.Audit.Origin, "signing_key_file": c.Audit.SigningKeyFile, "hmac_key_file": c.Audit.HMACKeyFile,
		"anchor_dir": c.Audit.AnchorDir}}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
