package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// AuditTail is `rack-gateway audit tail`.
func AuditTail(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "audit tail", "audit tail [-n N] [--follow] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	n := fs.Int("n", 20, "number of recent events")
	follow := fs.Bool("follow", false, "keep printing new events")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
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

// printEvent prints one event on one line, led by its chain sequence
// number (the one audit verify and exports use). Every recorded string
// is printed through cmdutil.Printable: a decoded %0a in a path cannot
// forge a line, nor %1b[ drive the terminal.
func printEvent(w io.Writer, ev *chain.Event) {
	p := cmdutil.Printable
	target := ev.Method + " " + ev.Path
	if ev.Method == "" {
		target = ev.Resource
	}
	fmt.Fprintf(w, "seq %d %s %-5s %-22s %-28s %s rack=%s status=%d reason=%s",
		ev.Seq, timefmt.Display(ev.Time), p(ev.Decision), p(ev.Action), p(ev.Actor), p(target),
		p(cmdutil.OrDash(ev.Rack)), ev.Status, p(ev.Reason))
	if ev.Details != "" {
		fmt.Fprintf(w, " %s", p(ev.Details))
	}
	fmt.Fprintln(w)
}
