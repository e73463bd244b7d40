package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// eventData is one event's page: what an auditor asks for — every field,
// its hash recomputed, the previous hash, the checkpoint that covers it
// and that checkpoint's anchor, each checked here and said so.
type eventData struct {
	Seq      int64
	Fields   []detailLine
	Details  []detailLine
	Hash     string
	PrevHash string
	PrevNote string // why the previous hash is not known
	// HashOK: SHA-256(previous hash || canonical event) is the stored
	// hash. HashChecked is false when the previous hash is not known.
	HashChecked, HashOK bool
	Checkpoint          *checkpointView
	CheckpointErr       string
}

type checkpointView struct {
	Seq, FromSeq      int64
	Statement         string
	Signature         string // base64, as in the anchor object
	KeyID             string
	Created, Anchored string
	AnchoredAge       string
	// SigChecked: the gateway has the public key; SigOK: the signature
	// verifies and the statement names this checkpoint's seq; HeadOK: the
	// statement's head is the stored hash of event Seq.
	SigChecked, SigOK, HeadOK bool
	SigNote                   string
	Anchor                    *anchorView
}

type anchorView struct {
	Location, Key string
	KeyID         string
	Matches       bool   // the anchored object holds this very statement and signature
	Note          string // why it could not be read or does not match
}

// auditEvent is GET /audit/events/{seq} (gateway:audit).
func (c *console) auditEvent(q *request) {
	if !c.authorizeRead(q, "audit.event", q.r.PathValue("seq")) {
		return
	}
	seq, err := strconv.ParseInt(q.r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad event number", "An event is named by its sequence number, a whole number from 1.")
		return
	}
	if c.o.AuditStore == nil {
		c.renderError(q.w, q.r, q, http.StatusServiceUnavailable, "Unavailable", "Event pages are not available on this gateway.")
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), 15*time.Second)
	defer cancel()
	st := c.o.AuditStore
	e, err := st.AuditEvent(ctx, seq)
	if errors.Is(err, store.ErrNotFound) {
		c.renderError(q.w, q.r, q, http.StatusNotFound, "No such event",
			fmt.Sprintf("There is no event %d in the audit log (not yet written, or pruned).", seq))
		return
	}
	if err != nil {
		c.log.Error("console: audit event", "err", err, "request_id", q.actor.RequestID)
		c.renderError(q.w, q.r, q, http.StatusServiceUnavailable, "Unavailable", "The audit log cannot be read right now.")
		return
	}
	d := eventData{Seq: seq, Fields: eventFields(&e), Details: detailLines(e.Details), Hash: hex.EncodeToString(e.Hash)}
	prev, note := c.prevHash(ctx, seq)
	d.PrevNote = note
	if prev != nil {
		d.PrevHash = hex.EncodeToString(prev)
		var h chain.Hasher
		d.HashChecked, d.HashOK = true, bytes.Equal(h.Next(prev, &e), e.Hash)
	}
	cp, from, err := st.CoveringCheckpoint(ctx, seq)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The template says so plainly.
	case err != nil:
		c.log.Error("console: covering checkpoint", "err", err, "request_id", q.actor.RequestID)
		d.CheckpointErr = "The checkpoints cannot be read right now."
	default:
		d.Checkpoint = c.checkpointView(ctx, &cp, from, &e)
	}
	c.render(q.w, q.r, q, http.StatusOK, "audit_event", fmt.Sprintf("Audit event %d", seq), "/audit", d)
}

// prevHash is the chain hash before event seq: the genesis for the first,
// else the previous event's, or after a prune the head of the checkpoint
// at seq-1; nil and why when it is not known.
func (c *console) prevHash(ctx context.Context, seq int64) ([]byte, string) {
	if seq == 1 {
		return chain.Genesis(), ""
	}
	st := c.o.AuditStore
	p, err := st.AuditEvent(ctx, seq-1)
	if err == nil {
		return p.Hash, ""
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "The previous event cannot be read right now."
	}
	if cp, _, err := st.CoveringCheckpoint(ctx, seq-1); err == nil && cp.Seq == seq-1 {
		if s, err := checkpoint.Parse(cp.Statement); err == nil {
			return s.Head, ""
		}
	}
	return nil, "The previous event was pruned, and no checkpoint names its hash."
}

// checkpointView checks the checkpoint cp that covers e: its signature
// (with the gateway's public key), its head against the stored event, and
// its anchor object.
func (c *console) checkpointView(ctx context.Context, cp *store.Checkpoint, from int64, e *chain.Event) *checkpointView {
	v := &checkpointView{Seq: cp.Seq, FromSeq: from, Statement: cp.Statement,
		Signature: base64.StdEncoding.EncodeToString(cp.Signature), Created: timefmt.Display(cp.CreatedAt),
		Anchored: timefmt.Display(cp.AnchoredAt)}
	if !cp.AnchoredAt.IsZero() {
		v.AnchoredAge = ago(time.Since(cp.AnchoredAt))
	}
	if pub := c.o.AuditKey; pub != nil {
		v.SigChecked, v.KeyID = true, checkpoint.KeyID(pub)
		s, err := checkpoint.Verify(pub, cp.Statement, cp.Signature)
		switch {
		case err != nil:
			v.SigNote = "The signature does not verify with this gateway's public key: " + err.Error() + "."
		case s.Seq != cp.Seq:
			v.SigNote = fmt.Sprintf("The signed statement names seq %d, not %d.", s.Seq, cp.Seq)
		default:
			v.SigOK = true
			head := e.Hash
			if cp.Seq != e.Seq {
				if h, err := c.o.AuditStore.AuditEvent(ctx, cp.Seq); err == nil {
					head = h.Hash
				} else {
					head = nil
				}
			}
			v.HeadOK = head != nil && bytes.Equal(head, s.Head)
		}
	}
	if c.o.Anchors != nil && !cp.AnchoredAt.IsZero() {
		v.Anchor = c.anchorView(ctx, cp)
	}
	return v
}

// anchorView reads the anchor object of cp and compares it with the
// stored checkpoint.
func (c *console) anchorView(ctx context.Context, cp *store.Checkpoint) *anchorView {
	a := &anchorView{Location: c.o.Anchors.Describe(), Key: checkpoint.AnchorKey(cp.Seq)}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	data, err := c.o.Anchors.Get(ctx, a.Key)
	if err != nil {
		c.log.Warn("console: read anchor", "key", a.Key, "err", err)
		a.Note = "The anchor object could not be read right now."
		return a
	}
	obj, err := checkpoint.DecodeAnchor(data)
	if err != nil {
		a.Note = "The anchor object is not a valid anchor."
		return a
	}
	a.KeyID = obj.KeyID
	a.Matches = obj.Statement == cp.Statement && bytes.Equal(obj.Signature, cp.Signature)
	if !a.Matches {
		a.Note = "The anchor object holds a different statement or signature than the database."
	}
	return a
}

// eventFields lists every field of e, in the canonical encoding's order.
func eventFields(e *chain.Event) []detailLine {
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []detailLine{
		{"Seq", num(e.Seq)}, {"ID", num(e.ID)}, {"Time", timefmt.Display(e.Time)},
		{"Time (exact)", e.Time.UTC().Format(time.RFC3339Nano)}, {"Request ID", e.RequestID}, {"Rack", e.Rack},
		{"Actor type", e.ActorType}, {"Actor", e.Actor}, {"Actor ID", num(e.ActorID)}, {"Token ID", num(e.TokenID)},
		{"Role", e.Role}, {"Source IP", e.SourceIP}, {"User agent", e.UserAgent}, {"Method", e.Method},
		{"Path", e.Path}, {"Route", e.Route}, {"Action", e.Action}, {"App", e.App}, {"Resource", e.Resource},
		{"Permission", e.Permission}, {"Decision", e.Decision}, {"Reason", e.Reason},
		{"Status", strconv.Itoa(e.Status)}, {"Duration", (time.Duration(e.DurationUS) * time.Microsecond).String()},
	}
}

// ago says how long ago, for people: "42s", "5m", "3h 10m", "2d 4h".
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh ago", int(d.Hours())/24, int(d.Hours())%24)
}

// authorizeRead decides gateway:audit for a page of the audit trail's
// own (an event, the status) and records the decision, allowed or
// denied, in the audit log; a refusal is answered here.
func (c *console) authorizeRead(q *request, action, resource string) bool {
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: authz.GatewayAudit, Now: time.Now()})
	p := q.p
	ev := &chain.Event{Time: time.Now(), RequestID: q.actor.RequestID, ActorType: string(p.Kind), Actor: p.Email,
		ActorID: p.UserID, TokenID: p.TokenID, Role: p.Role, SourceIP: q.actor.SourceIP, UserAgent: q.actor.UserAgent,
		Method: q.r.Method, Path: truncate(q.r.URL.Path, 512), Action: action, Resource: truncate(resource, 128),
		Permission: string(authz.GatewayAudit), Decision: "allow", Reason: string(d.Reason), Status: http.StatusOK}
	if !d.Allow {
		ev.Decision, ev.Status = "deny", http.StatusForbidden
	}
	c.o.Admin.Audit.Record(ev)
	if d.Allow {
		return true
	}
	return c.gate(q, authz.GatewayAudit) // answers the refusal (or the step-up)
}
