package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/trail"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// openTrailAndStore loads the configuration's audit keys and anchors and
// opens its database (the caller closes it).
func openTrailAndStore(ctx context.Context, e *cmdutil.Env, db dbFlags, o trail.Options) (*trail.Trail, store.Store, error) {
	cfg, err := db.load(e)
	if err != nil {
		return nil, nil, err
	}
	tr, err := openTrail(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	st, err := openDSN(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	return tr, st, nil
}

// errVerifyFailed makes the process exit 1 after the verdict is printed.
var errVerifyFailed = errors.New("audit log verification FAILED")

// openTrail loads the audit configuration's keys and anchors.
func openTrail(ctx context.Context, cfg *config.Config, o trail.Options) (*trail.Trail, error) {
	o.CreateKeys = false
	return trail.Open(ctx, gateway.TrailConfig(cfg.Audit), o)
}

// AuditVerify is `rack-gateway audit verify`.
func AuditVerify(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit verify", "audit verify [EXPORT.jsonl] [--config FILE | --data DIR] [--public-key FILE] [--anchor-dir DIR]")
	db := addDBFlags(fs, e)
	pub := fs.String("public-key", "", "checkpoint public key `file` (default: from the configuration)")
	anchorDir := fs.String("anchor-dir", "", "read anchors from this `dir` instead of the configured store")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fs.Fail()
	}
	cfg, err := db.load(e)
	if err != nil {
		return err
	}
	if *pub != "" {
		cfg.Audit.PublicKeyFile, cfg.Audit.SigningKeyFile, cfg.Audit.SigningKey = *pub, "", ""
	}
	if *anchorDir != "" {
		cfg.Audit.AnchorDir, cfg.Audit.S3 = *anchorDir, config.S3Anchors{}
	}
	tr, err := openTrail(ctx, cfg, trail.Options{NeedAnchors: true})
	if err != nil {
		return err
	}
	var rep *verify.Report
	start := time.Now()
	if len(pos) == 1 {
		rep, err = verifyExport(ctx, pos[0], tr)
	} else {
		st, oerr := openDSN(ctx, cfg.DatabaseURL)
		if oerr != nil {
			return oerr
		}
		defer st.Close()
		rep, err = gateway.Verify(ctx, st, tr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, rep.Verdict())
	fmt.Fprintf(e.Stderr, "verified in %s; public key id %s\n", time.Since(start).Round(time.Millisecond), checkpoint.KeyID(tr.PublicKey))
	if !rep.OK() {
		return errVerifyFailed
	}
	return nil
}

// verifyExport verifies a JSONL export file against the anchors.
func verifyExport(ctx context.Context, path string, tr *trail.Trail) (*verify.Report, error) {
	in, f, err := verify.OpenExport(path, tr.Anchors, tr.PublicKey)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return verify.Run(ctx, in)
}

// parseRange reads --since and --until in the forms the console's audit
// explorer takes (timefmt: a date is a whole UTC day, minutes, seconds,
// RFC 3339), or as a duration ago ("24h"), into the range [since, until).
func parseRange(since, until string, now time.Time) (time.Time, time.Time, error) {
	ago := func(s string) string {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return now.Add(-d).UTC().Format(time.RFC3339Nano)
		}
		return s
	}
	from, to, err := timefmt.ParseRange(ago(since), ago(until))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--since/--until: %w (or a duration ago, e.g. 24h)", err)
	}
	return from, to, nil
}

// AuditExport is `rack-gateway audit export`.
func AuditExport(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit export", "audit export [--format jsonl|csv] [--since T] [--until T] [--app A] [--actor X] [--action A] [--decision allow|deny] [--rack R] [-o FILE]")
	db := addDBFlags(fs, e)
	format := fs.String("format", "jsonl", "jsonl (verifiable) or csv (for people)")
	since := fs.String("since", "", "from this time: YYYY-MM-DD (from the day's start, UTC), YYYY-MM-DDTHH:MM (UTC), RFC 3339, or a duration ago (24h)")
	until := fs.String("until", "", "before this time, same forms; a date includes its whole day")
	app := fs.String("app", "", "only this app (the export can then not be chain-verified)")
	actor := fs.String("actor", "", "only this actor (the export can then not be chain-verified)")
	action := fs.String("action", "", "only this action (the export can then not be chain-verified)")
	decision := fs.String("decision", "", "only allow or deny (the export can then not be chain-verified)")
	rack := fs.String("rack", "", "only this rack (the export can then not be chain-verified)")
	out := fs.String("o", "", "write to `file` instead of standard output")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	if *format != "jsonl" && *format != "csv" {
		return fmt.Errorf("--format %q: want jsonl or csv", *format)
	}
	if *decision != "" && *decision != "allow" && *decision != "deny" {
		return fmt.Errorf("--decision %q: want allow or deny", *decision)
	}
	from, to, err := parseRange(*since, *until, time.Now())
	if err != nil {
		return err
	}
	st, err := db.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	w := e.Stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return export.Write(ctx, st, w, export.Options{Format: *format, Since: from, Until: to, App: *app, Actor: *actor,
		Action: *action, Decision: *decision, Rack: *rack})
}

// AuditPubkey is `rack-gateway audit pubkey`.
func AuditPubkey(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit pubkey", "audit pubkey [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	cfg, err := db.load(e)
	if err != nil {
		return err
	}
	tr, err := openTrail(ctx, cfg, trail.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "# checkpoint public key, id %s\n", checkpoint.KeyID(tr.PublicKey))
	_, err = e.Stdout.Write(checkpoint.MarshalPublicKey(tr.PublicKey))
	return err
}

// AuditCheckValue is `rack-gateway audit check-value`.
func AuditCheckValue(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit check-value", "audit check-value NAME [VALUE | --stdin] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	stdin := fs.Bool("stdin", false, "read VALUE from standard input (keeps it out of shell history)")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 || (len(pos) == 2) == *stdin {
		return fs.Fail()
	}
	name, value := pos[0], ""
	if *stdin {
		b, err := io.ReadAll(io.LimitReader(e.In(), 1<<20))
		if err != nil {
			return err
		}
		value = strings.TrimRight(string(b), "\r\n")
	} else {
		value = pos[1]
	}
	tr, st, err := openTrailAndStore(ctx, e, db, trail.Options{NeedHMAC: true})
	if err != nil {
		return err
	}
	defer st.Close()
	var hits, sets int
	err = st.ScanAudit(ctx, 0, func(ev *chain.Event) error {
		if !strings.Contains(ev.Details, audit.ValueHashPrefix) {
			return nil
		}
		var d struct {
			Hashes map[string]string `json:"env_value_hashes"`
		}
		if json.Unmarshal([]byte(ev.Details), &d) != nil {
			return nil
		}
		h, ok := d.Hashes[name]
		if !ok {
			return nil
		}
		sets++
		if audit.CheckValueHash(tr.HMACKey, name, value, h) {
			hits++
			fmt.Fprintf(e.Stdout, "seq %d %s %s set %s to this value (app %s, rack %s, decision %s, status %d)\n",
				ev.Seq, timefmt.Display(ev.Time), cmdutil.Printable(ev.Actor), cmdutil.Printable(name),
				cmdutil.Printable(cmdutil.OrDash(ev.App)), cmdutil.Printable(cmdutil.OrDash(ev.Rack)), ev.Decision, ev.Status)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if hits == 0 {
		fmt.Fprintf(e.Stdout, "no audited change set %s to this value (%d audited changes of %s)\n", name, sets, name)
		return errors.New("no match")
	}
	return nil
}

// AuditKeygen is `rack-gateway audit keygen`.
func AuditKeygen(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit keygen", "audit keygen --signing-key FILE --hmac-key FILE")
	sk := fs.String("signing-key", "", "write a new Ed25519 checkpoint signing key to `file` (mode 0600)")
	hk := fs.String("hmac-key", "", "write a new HMAC key for audited values to `file` (mode 0600)")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	if *sk == "" && *hk == "" {
		return fs.Fail()
	}
	for _, p := range []string{*sk, *hk} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; refusing to replace an audit key", p)
		}
	}
	if *sk != "" {
		k, err := checkpoint.LoadOrCreateKey(*sk, true)
		if err != nil {
			return err
		}
		pk := k.Public().(ed25519.PublicKey)
		fmt.Fprintf(e.Stdout, "wrote %s (key id %s); public key for auditors:\n%s", *sk, checkpoint.KeyID(pk), checkpoint.MarshalPublicKey(pk))
	}
	if *hk != "" {
		if err := trail.WriteNewHMACKey(*hk); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "wrote %s\n", *hk)
	}
	return nil
}

// AuditPrune is `rack-gateway audit prune`.
func AuditPrune(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit prune", "audit prune --through SEQ [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	through := fs.String("through", "", "delete events up to and including this seq (an anchored checkpoint's)")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	if *through == "" {
		return fs.Fail()
	}
	seq, err := strconv.ParseInt(*through, 10, 64)
	if err != nil || seq < 1 {
		return fmt.Errorf("--through %q: want a sequence number", *through)
	}
	tr, st, err := openTrailAndStore(ctx, e, db, trail.Options{NeedAnchors: true})
	if err != nil {
		return err
	}
	defer st.Close()
	// Prune only a log that verifies, and only behind a checkpoint whose
	// anchor is really in the anchor store.
	rep, err := gateway.Verify(ctx, st, tr)
	if err != nil {
		return err
	}
	if !rep.OK() {
		fmt.Fprintln(e.Stdout, rep.Verdict())
		return errors.New("refusing to prune a log that does not verify")
	}
	data, err := tr.Anchors.Get(ctx, anchor.Key(uint64(seq)))
	if err != nil {
		return fmt.Errorf("no anchored checkpoint at seq %d in %s: %w", seq, tr.Anchors.Describe(), err)
	}
	a, err := checkpoint.DecodeAnchor(data)
	if err != nil {
		return err
	}
	if _, err := checkpoint.Verify(tr.PublicKey, a.Statement, a.Signature); err != nil {
		return fmt.Errorf("anchor at seq %d: %w", seq, err)
	}
	n, err := st.PruneAudit(ctx, seq)
	if err != nil {
		return err
	}
	// The log records its own pruning: the first event after the prune
	// point says who pruned what, chained from the checkpoint's head.
	d, _ := json.Marshal(map[string]any{"through_seq": seq, "deleted_events": n})
	if err := st.AppendAudit(ctx, []*chain.Event{{ActorType: "system", Actor: "cli:audit-prune", Action: "audit.prune",
		Decision: "allow", Reason: "allowed", Details: string(d)}}); err != nil {
		return fmt.Errorf("pruned %d events but could not record it in the audit log: %w", n, err)
	}
	fmt.Fprintf(e.Stdout, "pruned %d events through seq %d; the log now starts after the checkpoint at seq %d\n", n, seq, seq)
	return nil
}
