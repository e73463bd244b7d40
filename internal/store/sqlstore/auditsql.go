package sqlstore

import (
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// auditColumns lists the audit_events columns, excluding id, in the order
// of auditValues and of the scan targets after id.
var auditColumns = []string{
	"occurred_at", "request_id", "rack", "actor_type", "actor", "actor_id",
	"token_id", "role", "source_ip", "user_agent", "method", "path", "route",
	"action", "app", "resource", "permission", "decision", "reason", "status",
	"duration_us", "details", "seq", "hash",
}

// AuditSelectList is the column list of every audit SELECT: id and
// auditColumns; events written before the hash chain existed read back
// with Seq 0 and an empty Hash.
const AuditSelectList = "id, occurred_at, request_id, rack, actor_type, actor, actor_id, " +
	"token_id, role, source_ip, user_agent, method, path, route, " +
	"action, app, resource, permission, decision, reason, status, " +
	"duration_us, details, COALESCE(seq, 0), COALESCE(hash, '')"

// selectHead is the newest chained event, or, when pruning left no events,
// the newest checkpoint's head, so the chain continues from it.
const selectHead = `SELECT seq, hash FROM (
	SELECT seq, hash FROM (SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1) AS e
	UNION ALL
	SELECT seq, head_hash FROM (SELECT seq, head_hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1) AS c
) AS h ORDER BY seq DESC LIMIT 1`

// auditTailQuery reads, in one statement run once per append under the
// lock, the last id given (lastID, or 0 when the database numbers the
// rows) and the chain head (NULLs when there is none).
func auditTailQuery(lastID string) string {
	if lastID == "" {
		lastID = "0"
	}
	return "SELECT " + lastID + ", head.seq, head.hash FROM (SELECT 1) AS one LEFT JOIN (" + selectHead + ") AS head ON 1 = 1"
}

// auditInsertQuery returns the INSERT of n audit rows: with explicit ids
// when the store numbers them, else reading the generated ids back.
func auditInsertQuery(a AuditSQL, n int) string {
	cols, width := strings.Join(auditColumns, ", "), len(auditColumns)
	if a.LastID != "" {
		cols, width = "id, "+cols, width+1
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	q := a.InsertVerb + " INTO audit_events (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	if a.LastID == "" {
		q += " RETURNING id, seq"
	}
	return q
}

// appendAuditValues appends e's column values in auditColumns order.
func (s *Store) appendAuditValues(args []any, e *chain.Event) []any {
	return append(args,
		s.t(e.Time), e.RequestID, e.Rack, e.ActorType, e.Actor, e.ActorID,
		e.TokenID, e.Role, e.SourceIP, e.UserAgent, e.Method, e.Path, e.Route,
		e.Action, e.App, e.Resource, e.Permission, e.Decision, e.Reason, e.Status,
		e.DurationUS, e.Details, e.Seq, e.Hash)
}

// auditTargets returns the scan targets of AuditSelectList into e.
func (s *Store) auditTargets(e *chain.Event) []any {
	return []any{
		&e.ID,
		s.td(&e.Time), &e.RequestID, &e.Rack, &e.ActorType, &e.Actor, &e.ActorID,
		&e.TokenID, &e.Role, &e.SourceIP, &e.UserAgent, &e.Method, &e.Path, &e.Route,
		&e.Action, &e.App, &e.Resource, &e.Permission, &e.Decision, &e.Reason, &e.Status,
		&e.DurationUS, &e.Details, &e.Seq, &e.Hash,
	}
}

// auditList returns the plain ListAudit query for f, newest first, and its
// arguments.
func auditList(f store.AuditFilter, encodeTime func(time.Time) any) (string, []any) {
	where, args := AuditWhere(f, encodeTime)
	q := "SELECT " + AuditSelectList + " FROM audit_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY id DESC LIMIT ?", append(args, store.AuditLimit(f.Limit))
}

// AuditWhere returns f's conditions (to be joined with AND), with '?'
// placeholders, and their arguments; encodeTime encodes Since and Until.
func AuditWhere(f store.AuditFilter, encodeTime func(time.Time) any) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		where, args = append(where, cond), append(args, arg)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.App != "" {
		add("app = ?", f.App)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Decision != "" {
		add("decision = ?", f.Decision)
	}
	if f.Rack != "" {
		add("rack = ?", f.Rack)
	}
	if !f.Since.IsZero() {
		add("occurred_at >= ?", encodeTime(CeilMicro(f.Since)))
	}
	if !f.Until.IsZero() {
		add("occurred_at < ?", encodeTime(CeilMicro(f.Until)))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	return where, args
}

// CeilMicro rounds t up to a whole microsecond. Stored times have
// microsecond precision, so for a stored time e, e >= t exactly when
// e >= CeilMicro(t), and likewise for <.
func CeilMicro(t time.Time) time.Time {
	r := t.Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}
