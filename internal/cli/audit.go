package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

func init() {
	register("audit", "audit log: tail, verify, export, pubkey, check-value, keygen, prune", runAudit)
}

const auditUsage = `Usage: rack-gateway audit VERB [flags] [--config FILE | --data DIR]

  tail [-n N] [--follow]                 recent events
  verify [EXPORT.jsonl]                  verify the live log (or an export) against the anchors
  export [--format jsonl|csv] [--since T] [--until T] [--app A] [--actor X] [-o FILE]
  pubkey                                 print the checkpoint public key (PEM) and its id
  check-value NAME [VALUE | --stdin]     was env NAME ever set to VALUE?
  keygen --signing-key FILE --hmac-key FILE   make new audit keys
  prune --through SEQ                    delete events up to an anchored checkpoint`

func runAudit(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, auditUsage)
		return errUsage
	}
	switch args[0] {
	case "tail":
	case "verify":
		return auditVerify(ctx, e, args[1:])
	case "export":
		return auditExport(ctx, e, args[1:])
	case "pubkey":
		return auditPubkey(ctx, e, args[1:])
	case "check-value":
		return auditCheckValue(ctx, e, args[1:])
	case "keygen":
		return auditKeygen(e, args[1:])
	case "prune":
		return auditPrune(ctx, e, args[1:])
	default:
		fmt.Fprintln(e.Stderr, auditUsage)
		return errUsage
	}
	fs := newFlags(e, "audit tail", "audit tail [-n N] [--follow] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	n := fs.Int("n", 20, "number of recent events")
	follow := fs.Bool("follow", false, "keep printing new events")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return errUsage
	}
	st, err := db.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	evs, err := st.ListAudit(ctx, store.AuditFilter{Limit: *n})
	if err != nil {
		return err
	}
	var last int64
	for i := len(evs) - 1; i >= 0; i-- {
		printEvent(e.Stdout, &evs[i])
		last = evs[i].ID
	}
	for *follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		newer, err := st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for i := len(newer) - 1; i >= 0; i-- {
			if newer[i].ID > last {
				printEvent(e.Stdout, &newer[i])
				last = newer[i].ID
			}
		}
	}
	return nil
}

func printEvent(w io.Writer, ev *chain.Event) {
	target := ev.Method + " " + ev.Path
	if ev.Method == "" {
		target = ev.Resource
	}
	fmt.Fprintf(w, "%d %s %-5s %-22s %-28s %s rack=%s status=%d reason=%s",
		ev.ID, ev.Time.UTC().Format(time.RFC3339), ev.Decision, ev.Action, ev.Actor, target, orDash(ev.Rack), ev.Status, ev.Reason)
	if ev.Details != "" {
		fmt.Fprintf(w, " %s", ev.Details)
	}
	fmt.Fprintln(w)
}
