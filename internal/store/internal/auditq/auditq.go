// Package auditq builds the SQL shared by the backends' audit queries. The
// audit_events column names are identical in both schemas; only placeholder
// syntax and time encoding differ, and callers supply those.
package auditq

import (
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Columns lists the audit_events columns, excluding id, in the order of
// Values and of the scan targets the backends use after id.
var Columns = []string{
	"occurred_at", "request_id", "rack", "actor_type", "actor", "actor_id",
	"token_id", "role", "source_ip", "user_agent", "method", "path", "route",
	"action", "app", "resource", "permission", "decision", "reason", "status",
	"duration_us", "details", "seq", "hash",
}

// ColumnList is Columns joined with ", ".
var ColumnList = strings.Join(Columns, ", ")

// SelectList is "id, " and Columns for SELECTs; events written before the
// hash chain existed read back with Seq 0 and an empty Hash.
var SelectList = "id, " + strings.Join(Columns[:len(Columns)-2], ", ") + ", COALESCE(seq, 0), COALESCE(hash, '')"

// Values returns e's column values in Columns order, with the time encoded
// by encodeTime.
func Values(e *chain.Event, encodeTime func(time.Time) any) []any {
	return []any{
		encodeTime(e.Time), e.RequestID, e.Rack, e.ActorType, e.Actor, e.ActorID,
		e.TokenID, e.Role, e.SourceIP, e.UserAgent, e.Method, e.Path, e.Route,
		e.Action, e.App, e.Resource, e.Permission, e.Decision, e.Reason, e.Status,
		e.DurationUS, e.Details, e.Seq, e.Hash,
	}
}

// ScanTargets returns pointers to e's fields in "id, Columns" order, with the
// time scanned into timeDst (the caller converts it afterwards).
func ScanTargets(e *chain.Event, timeDst any) []any {
	return []any{
		&e.ID,
		timeDst, &e.RequestID, &e.Rack, &e.ActorType, &e.Actor, &e.ActorID,
		&e.TokenID, &e.Role, &e.SourceIP, &e.UserAgent, &e.Method, &e.Path, &e.Route,
		&e.Action, &e.App, &e.Resource, &e.Permission, &e.Decision, &e.Reason, &e.Status,
		&e.DurationUS, &e.Details, &e.Seq, &e.Hash,
	}
}

// Insert returns "INSERT INTO audit_events (...) VALUES (...) RETURNING id"
// with placeholders from ph (ph(1) is the first).
func Insert(ph func(n int) string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_events (" + ColumnList + ") VALUES (")
	for i := range Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ph(i + 1))
	}
	b.WriteString(") RETURNING id")
	return b.String()
}

// List returns the ListAudit query for f, newest first, and its arguments.
// ph renders the n-th placeholder; encodeTime encodes Since and Until.
func List(f store.AuditFilter, ph func(n int) string, encodeTime func(time.Time) any) (string, []any) {
	where, args := Where(f, ph, encodeTime)
	var b strings.Builder
	b.WriteString("SELECT " + SelectList + " FROM audit_events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	args = append(args, store.AuditLimit(f.Limit))
	b.WriteString(" ORDER BY id DESC LIMIT " + ph(len(args)))
	return b.String(), args
}

// Where returns f's conditions (to be joined with AND) and their
// arguments, numbered from ph(1).
func Where(f store.AuditFilter, ph func(n int) string, encodeTime func(time.Time) any) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" "+ph(len(args)))
	}
	if f.Actor != "" {
		add("actor =", f.Actor)
	}
	if f.App != "" {
		add("app =", f.App)
	}
	if f.Action != "" {
		add("action =", f.Action)
	}
	if f.Decision != "" {
		add("decision =", f.Decision)
	}
	if f.Rack != "" {
		add("rack =", f.Rack)
	}
	if !f.Since.IsZero() {
		add("occurred_at >=", encodeTime(CeilMicro(f.Since)))
	}
	if !f.Until.IsZero() {
		add("occurred_at <", encodeTime(CeilMicro(f.Until)))
	}
	if f.BeforeID > 0 {
		add("id <", f.BeforeID)
	}
	return where, args
}

// CeilMicro rounds t up to a whole microsecond. Stored times have microsecond
// precision, so for a stored time e, e >= t exactly when e >= CeilMicro(t),
// and likewise for <.
func CeilMicro(t time.Time) time.Time {
	r := t.Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}
