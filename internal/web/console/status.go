package console

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// AnchorReader reads anchor objects (anchor.Store's reading half).
type AnchorReader interface {
	Get(ctx context.Context, key string) ([]byte, error)
	// Describe names where anchors are kept, e.g. the bucket and its
	// Object Lock retention.
	Describe() string
}

// StatusReport is the gateway's state as the status page shows it,
// gathered by the gateway (Options.Status).
type StatusReport struct {
	// Database is the store's kind: "sqlite" or "postgres".
	Database string
	Racks    []RackStatus
	// Head is the audit chain's newest event (Seq 0: empty chain).
	HeadSeq  int64
	HeadHash []byte
	HeadTime time.Time
	// LastCheckpoint and LastAnchored are the newest checkpoint and the
	// newest anchored one (Seq 0: none).
	LastCheckpoint, LastAnchored CheckpointStatus
	// AnchorLocation describes the anchor store; AnchorError is the last
	// anchoring error, if the anchor store is failing now.
	AnchorLocation, AnchorError string
	Sinks                       []SinkStatus
}

// RackStatus is one configured rack's reachability: the gateway's own
// check (its /check, then /auth with the rack password).
type RackStatus struct {
	Name      string
	Reachable bool
	Problem   string // why not
}

// CheckpointStatus is a checkpoint's place and times.
type CheckpointStatus struct {
	Seq        int64
	CreatedAt  time.Time
	AnchoredAt time.Time
}

// SinkStatus is one SIEM stream's delivery state.
type SinkStatus struct {
	Name      string
	Lag       int // events queued or in flight, not yet delivered
	Sent      int64
	Dropped   int64
	LastError string
}

type statusRack struct {
	RackStatus
	Version    string
	VersionErr string
}

type statusData struct {
	Err        string
	R          StatusReport
	Racks      []statusRack
	Head       string
	HeadTime   string
	HeadAge    string
	Checkpoint statusTime
	Anchored   statusTime
	Now        string
}

type statusTime struct {
	Seq       int64
	At, Age   string
	Behind    int64 // events after it
	Anchored  string
	AnchorAge string
}

// status is GET /status: admins only (gateway:audit, the audit trail's
// state being most of it), decided and recorded like every read of the
// audit trail.
func (c *console) status(q *request) {
	if !c.authorizeRead(q, "gateway.status", "") {
		return
	}
	now := time.Now()
	d := statusData{Now: timefmt.Display(now)}
	if c.o.Status == nil {
		d.Err = "The status is not available on this gateway."
		c.render(q.w, q.r, q, http.StatusServiceUnavailable, "status", "Status", "/status", d)
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), 10*time.Second)
	defer cancel()
	r, err := c.o.Status(ctx)
	if err != nil {
		c.log.Error("console: status", "err", err, "request_id", q.actor.RequestID)
		d.Err = "Part of the status could not be read: " + err.Error()
	}
	d.R = r
	if r.HeadSeq > 0 {
		d.Head, d.HeadTime, d.HeadAge = hex.EncodeToString(r.HeadHash), timefmt.Display(r.HeadTime), agoAt(r.HeadTime, now)
	}
	cp := func(s CheckpointStatus) statusTime {
		if s.Seq == 0 {
			return statusTime{}
		}
		return statusTime{Seq: s.Seq, At: timefmt.Display(s.CreatedAt), Age: agoAt(s.CreatedAt, now),
			Behind: r.HeadSeq - s.Seq, Anchored: timefmt.Display(s.AnchoredAt), AnchorAge: agoAt(s.AnchoredAt, now)}
	}
	d.Checkpoint, d.Anchored = cp(r.LastCheckpoint), cp(r.LastAnchored)
	// Each rack's version is read through the proxy as the signed-in
	// admin (GET /system, rack:read): the same policy, filters and audit
	// as the convox CLI.
	// One page view, one audit event naming the racks read.
	rd := c.readsFor(q, "status", "")
	defer rd.end(http.StatusOK)
	d.Racks = make([]statusRack, len(r.Racks))
	for i, rs := range r.Racks {
		d.Racks[i] = statusRack{RackStatus: rs}
		var sys struct {
			Version string `json:"version"`
		}
		if e := rd.getOn(rs.Name, "/system", nil, &sys); e != nil {
			d.Racks[i].VersionErr = e.Msg
		} else {
			d.Racks[i].Version = truncate(sys.Version, 64)
		}
	}
	c.render(q.w, q.r, q, http.StatusOK, "status", "Status", "/status", d)
}

// agoAt is ago for a time ("" for the zero time).
func agoAt(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ago(now.Sub(t))
}
