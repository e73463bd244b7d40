package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/siem"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

// status gathers what the console's status page shows (console.Options
// Status): each rack's reachability (the gateway's own check, as /readyz
// makes it), the audit chain head, the last checkpoint and the last
// anchored one, the SIEM streams' delivery and the database kind. Errors
// reading the database are returned with what could be gathered.
func (g *Gateway) status(ctx context.Context) (console.StatusReport, error) {
	var r console.StatusReport
	if kind, _, err := storeopen.Parse(g.Config.DatabaseURL); err == nil {
		r.Database = kind
	} else {
		r.Database = "unknown"
	}
	r.Racks = g.rackStatus(ctx)
	var errs []error
	seq, hash, err := g.Store.AuditHead(ctx)
	if err != nil {
		errs = append(errs, errors.New("the audit chain head cannot be read"))
	} else if seq > 0 {
		r.HeadSeq, r.HeadHash = seq, hash
		if e, err := g.Store.AuditEvent(ctx, seq); err == nil {
			r.HeadTime = e.Time
		}
	}
	for _, anchored := range []bool{false, true} {
		c, err := g.Store.LastCheckpoint(ctx, anchored)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			errs = append(errs, errors.New("the checkpoints cannot be read"))
		case anchored:
			r.LastAnchored = console.CheckpointStatus{Seq: c.Seq, CreatedAt: c.CreatedAt, AnchoredAt: c.AnchoredAt}
		default:
			r.LastCheckpoint = console.CheckpointStatus{Seq: c.Seq, CreatedAt: c.CreatedAt, AnchoredAt: c.AnchoredAt}
		}
	}
	if g.Trail != nil && g.Trail.Anchors != nil {
		r.AnchorLocation = g.Trail.Anchors.Describe()
	}
	if g.Checkpoints != nil {
		if _, aerr := g.Checkpoints.Status(); aerr != nil {
			r.AnchorError = aerr.Error()
		}
	}
	for _, s := range g.sinks {
		switch s := s.(type) {
		case *siem.Webhook:
			st := s.Stats()
			r.Sinks = append(r.Sinks, console.SinkStatus{Name: "webhook", Lag: st.Lag, Sent: st.Sent,
				Dropped: st.Dropped, LastError: st.LastError})
		case *siem.Writer:
			ss := console.SinkStatus{Name: "stdout"}
			if err := s.Err(); err != nil {
				ss.LastError = err.Error()
			}
			r.Sinks = append(r.Sinks, ss)
		}
	}
	return r, errors.Join(errs...)
}

// rackStatus checks every rack at once, each within a few seconds, in
// the console's order (the default rack first).
func (g *Gateway) rackStatus(ctx context.Context) []console.RackStatus {
	ups := g.Proxy.Upstreams()
	names := []string{g.Config.DefaultRack}
	for _, rc := range g.Config.Racks {
		if rc.Name != g.Config.DefaultRack {
			names = append(names, rc.Name)
		}
	}
	res := make([]console.RackStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		res[i] = console.RackStatus{Name: name}
		up := ups[name]
		if up == nil {
			res[i].Problem = "not configured"
			continue
		}
		wg.Go(func() { // each writes its own element
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := up.Check(cctx); err != nil {
				res[i].Problem = fmt.Sprint(err)
			} else {
				res[i].Reachable = true
			}
		})
	}
	wg.Wait()
	return res
}
