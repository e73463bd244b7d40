package sqlite

// The block index of the audit log (migration 0004).
//
// The ids are cut into aligned blocks of blockSize (ids k*blockSize to
// k*blockSize+blockSize-1). Every append records the distinct actors, apps
// and actions of its events, and the distinct pairs of the actor with the
// app, the action and the rack, and of the app with the action (migration
// 0013), once per block: a posting (kind, value, block's last id, block's
// first id) that the block already has is not written again (INSERT OR
// IGNORE), so a value costs one row per block whether the gateway commits
// 1 event at a time or 500. Each append also records the range of its
// events' times (audit_time_blocks). A listing filtered by actor, app,
// action or time walks the matching blocks newest first and reads only
// their id ranges, so it stays fast on a large log without per-event
// indexes.
//
// Postings written before blocks were aligned span the ids of one append
// batch instead, so a value's postings may overlap; the cursor clips them
// (blockCursor.next) so that no event is listed twice.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// blockIndex is the block index as the shared audit code's
// sqlstore.AuditIndex.
type blockIndex struct{}

var _ sqlstore.AuditIndex = blockIndex{}

// Writes implements sqlstore.AuditIndex: the inserts of writeBlocks.
func (blockIndex) Writes() []string { return []string{insertPostings, insertTimeBlocks} }

// Add implements sqlstore.AuditIndex.
func (blockIndex) Add(ctx context.Context, writes []*sql.Stmt, events []*chain.Event, ids []int64) error {
	return writeBlocks(ctx, writes[0], writes[1], events, ids)
}

// List implements sqlstore.AuditIndex: filters on actor, app, action and
// time read only the blocks that can match (for two of actor, app, action
// and rack, the blocks of the pair); denied + actor, app or action, and the
// rest (ok false), go to the plain query.
func (blockIndex) List(ctx context.Context, read *sql.DB, f store.AuditFilter, query sqlstore.AuditQuery) ([]chain.Event, bool, error) {
	if f.Decision == "deny" && (f.Actor != "" || f.App != "" || f.Action != "") {
		// The partial indexes of denied events (migration 0011) serve
		// these directly; the blocks of an actor would be walked for the
		// ~3% of its events that were refused.
		return nil, false, nil
	}
	c := newBlockCursor(read, f)
	if c == nil {
		return nil, false, nil
	}
	if c.query == postingQuery && (!f.Since.IsZero() || !f.Until.IsZero()) {
		if err := c.boundByTime(ctx, f); err != nil {
			return nil, true, err
		}
	}
	events, err := listByBlocks(ctx, f, c, query)
	return events, true, err
}

// blockSize bounds the id span of a block, so a block that matches costs
// at most this many rows to read.
const blockSize = 512

// idRange is a block's ids, first <= last.
type idRange struct{ first, last int64 }

// The inserts of a batch's blocks, each of one argument: a JSON array of
// rows, each an array of the columns (a posting's value in hex, so that
// every byte of it arrives as it was, whatever the value holds). One
// statement text for any number of rows lets the store prepare it once;
// building a multi-row VALUES statement per append and parsing it cost
// about as much as the rows themselves.
const (
	insertPostings = `INSERT OR IGNORE INTO audit_blocks (kind, value, last_id, first_id)
		SELECT json_extract(value, '$[0]'), CAST(unhex(json_extract(value, '$[1]')) AS TEXT),
			json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?)`
	insertTimeBlocks = `INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
		SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),
			json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?)`
)

// writeBlocks records the postings of events, whose ids are ids, in their
// aligned blocks, and the time ranges of at most blockSize events at a time
// (their Times as stored), with the statements insertPostings and
// insertTimeBlocks. The ids are consecutive (the store numbers them).
func writeBlocks(ctx context.Context, postings, times *sql.Stmt, events []*chain.Event, ids []int64) error {
	posting := []byte{'['}
	timed := []byte{'['}
	for start := 0; start < len(events); {
		// The events of ids[start]'s aligned block.
		first := ids[start] / blockSize * blockSize
		end := min(start+int(first+blockSize-ids[start]), len(events))
		seen := map[postingKey]bool{}
		var order []postingKey // first appearance, for a stable order of rows
		minAt, maxAt := int64(math.MaxInt64), int64(math.MinInt64)
		for i := start; i < end; i++ {
			e := events[i]
			for _, k := range [...]postingKey{
				{"actor", e.Actor, "", false}, {"app", e.App, "", false}, {"action", e.Action, "", false},
				{kindActorApp, e.Actor, e.App, true},
				{kindActorAction, e.Actor, e.Action, true},
				{kindActorRack, e.Actor, e.Rack, true},
				{kindAppAction, e.App, e.Action, true},
			} {
				if k.empty() || seen[k] { // "" never filters (store.AuditFilter)
					continue
				}
				seen[k] = true
				order = append(order, k)
			}
			at := e.Time.UnixMicro()
			minAt, maxAt = min(minAt, at), max(maxAt, at)
		}
		for _, k := range order {
			posting = jsonRow(posting, `"`+k.kind+`"`, `"`+hex.EncodeToString([]byte(k.value()))+`"`, first+blockSize-1, first)
		}
		timed = jsonRow(timed, ids[end-1], ids[start], minAt, maxAt)
		start = end
	}
	if _, err := postings.ExecContext(ctx, string(append(posting, ']'))); err != nil {
		return err
	}
	_, err := times.ExecContext(ctx, string(append(timed, ']')))
	return err
}

// postingKey is a posting of a block before its value is spelled out: a
// single value a, or the pair (a, b), so that the events of a batch are
// told apart without building a pair's value for each of them.
type postingKey struct {
	kind, a, b string
	pair       bool
}

// empty reports whether there is nothing to record: a value, or either
// value of a pair, is "".
func (k postingKey) empty() bool { return k.a == "" || (k.pair && k.b == "") }

// value is the posting's value: a single value as it is, a pair as
// pairValue spells it.
func (k postingKey) value() string {
	if k.pair {
		return pairValue(k.a, k.b)
	}
	return k.a
}

// jsonRow appends to a JSON array (opened, not closed) a row of cols, each
// an int64 or a string that is already a JSON value.
func jsonRow(b []byte, cols ...any) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		switch c := c.(type) {
		case int64:
			b = strconv.AppendInt(b, c, 10)
		case string:
			b = append(b, c...)
		}
	}
	return append(b, ']')
}

// blockCursor yields the blocks that may hold events matching a filter,
// newest first, a page at a time.
type blockCursor struct {
	db     *sql.DB
	query  string // selects first_id, last_id with last_id < the cursor
	args   []any  // the query's arguments after the cursor
	before int64  // only blocks with last_id below this are left
	after  int64  // only blocks with last_id at or above this are left
	floor  int64  // the lowest first_id yielded so far
	done   bool
}

const blockPage = 256

// newBlockCursor picks the block list for f: the postings of its app and
// action, else of its actor's pair with its app, action or rack, else of
// its actor, action or app (the first set, in that order), else its time
// blocks. It returns nil when f has none of those filters.
func newBlockCursor(db *sql.DB, f store.AuditFilter) *blockCursor {
	c := &blockCursor{db: db, before: math.MaxInt64, floor: math.MaxInt64}
	if f.BeforeID > 0 && f.BeforeID < math.MaxInt64-blockSize {
		// A block's last id is below its first + blockSize, so none that
		// starts below BeforeID ends at or above BeforeID+blockSize. The listing
		// query drops the ids >= BeforeID of a block that straddles it.
		c.before = f.BeforeID + blockSize
	}
	switch {
	case f.App != "" && f.Action != "":
		c.query, c.args = postingQuery, []any{kindAppAction, pairValue(f.App, f.Action)}
	case f.Actor != "" && f.App != "":
		c.query, c.args = postingQuery, []any{kindActorApp, pairValue(f.Actor, f.App)}
	case f.Actor != "" && f.Action != "":
		c.query, c.args = postingQuery, []any{kindActorAction, pairValue(f.Actor, f.Action)}
	case f.Actor != "" && f.Rack != "":
		c.query, c.args = postingQuery, []any{kindActorRack, pairValue(f.Actor, f.Rack)}
	case f.Actor != "":
		c.query, c.args = postingQuery, []any{"actor", f.Actor}
	case f.Action != "":
		c.query, c.args = postingQuery, []any{"action", f.Action}
	case f.App != "":
		c.query, c.args = postingQuery, []any{"app", f.App}
	case !f.Since.IsZero() || !f.Until.IsZero():
		since, until := timeBounds(f)
		c.query, c.args = timeQuery, []any{since, until}
	default:
		return nil
	}
	return c
}

// The kinds of pair postings (migration 0013).
const (
	kindActorApp    = "actor+app"
	kindActorAction = "actor+action"
	kindActorRack   = "actor+rack"
	kindAppAction   = "app+action"
)

// pairValue is the posting value of the pair (a, b): a's length in bytes,
// ':', a, then b, so that no two pairs share a value ("a", "bc" and "ab",
// "c" differ). It is "" (no posting) when either is empty. Migration 0013
// computes the same in SQL.
func pairValue(a, b string) string {
	if a == "" || b == "" {
		return ""
	}
	return strconv.Itoa(len(a)) + ":" + a + b
}

// timeWindowQuery is the id range of the time blocks that overlap a time
// range: every event in the range has an id in it, whatever the order of
// event times.
const timeWindowQuery = `SELECT COALESCE(MIN(first_id), 0), COALESCE(MAX(last_id), -1) FROM audit_time_blocks
		WHERE max_at >= ? AND min_at < ?`

// timeWindow returns the id range [lo, hi] of the time blocks that overlap
// f's time range; ok is false when none does.
func timeWindow(ctx context.Context, db *sql.DB, f store.AuditFilter) (lo, hi int64, ok bool, err error) {
	since, until := timeBounds(f)
	err = db.QueryRowContext(ctx, timeWindowQuery, since, until).Scan(&lo, &hi)
	return lo, hi, err == nil && hi >= lo, err
}

// boundByTime narrows a posting cursor to the ids of f's time range, so an
// actor, app or action listing over one day does not walk the value's
// blocks of the whole log (measured: bench/results/audit-10m.txt).
func (c *blockCursor) boundByTime(ctx context.Context, f store.AuditFilter) error {
	lo, hi, ok, err := timeWindow(ctx, c.db, f)
	if err != nil {
		return err
	}
	if !ok {
		c.done = true // no block overlaps the range
		return nil
	}
	// A block of the value that holds an id in [lo, hi] ends at or after
	// lo; one that ends after hi may still hold ids up to hi.
	c.before = min(c.before, hi+blockSize)
	c.after = lo
	return nil
}

// timeBounds are f's time bounds in stored microseconds, unbounded sides
// at the extremes.
func timeBounds(f store.AuditFilter) (since, until int64) {
	since, until = int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Since.IsZero() {
		since = sqlstore.CeilMicro(f.Since).UnixMicro()
	}
	if !f.Until.IsZero() {
		until = sqlstore.CeilMicro(f.Until).UnixMicro()
	}
	return since, until
}

const (
	postingQuery = `SELECT first_id, last_id FROM audit_blocks
		WHERE last_id < ? AND kind = ? AND value = ? ORDER BY last_id DESC LIMIT ?`
	timeQuery = `SELECT first_id, last_id FROM audit_time_blocks
		WHERE last_id < ? AND max_at >= ? AND min_at < ? ORDER BY last_id DESC LIMIT ?`
)

// next returns the next page of blocks, newest first, disjoint: each block
// is clipped below the lowest first id yielded before it. Blocks come in
// descending last_id, so the ids clipped off lie in a block already
// yielded, the one that set the floor. It returns none when done.
func (c *blockCursor) next(ctx context.Context) ([]idRange, error) {
	if c.done {
		return nil, nil
	}
	args := append(append([]any{c.before}, c.args...), blockPage)
	rows, err := c.db.QueryContext(ctx, c.query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out  []idRange
		read int
	)
	for rows.Next() {
		var r idRange
		if err := rows.Scan(&r.first, &r.last); err != nil {
			return nil, err
		}
		read++
		if r.last < c.after {
			c.done = true // newest first: the rest end before the time range
			break
		}
		c.before = r.last
		if r.last >= c.floor {
			r.last = c.floor - 1
		}
		if r.first <= r.last {
			out = append(out, r)
			c.floor = r.first
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if read < blockPage {
		c.done = true
	}
	return out, nil
}

// listByBlocks runs the listing over the blocks of c, newest first, a few
// blocks per query, until the limit is reached.
func listByBlocks(ctx context.Context, f store.AuditFilter, c *blockCursor, query sqlstore.AuditQuery) ([]chain.Event, error) {
	limit := store.AuditLimit(f.Limit)
	where, wargs := sqlstore.AuditWhere(f, Dialect{}.EncodeTime)
	events := make([]chain.Event, 0, min(limit, 128))
	const perQuery = 32
	for len(events) < limit {
		blocks, err := c.next(ctx)
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			break
		}
		for len(blocks) > 0 && len(events) < limit {
			n := min(len(blocks), perQuery)
			if f.BeforeID > 0 && blocks[0].first >= f.BeforeID {
				blocks = blocks[1:] // wholly above the page
				continue
			}
			// The blocks drive the query (CROSS JOIN keeps them the outer
			// loop), so SQLite seeks each id range instead of scanning;
			// NOT INDEXED keeps it on those rowid ranges (a denied-events
			// index must not be walked for every block).
			values := make([]string, n)
			args := make([]any, 0, 2*n+len(wargs)+1)
			for i, b := range blocks[:n] {
				values[i] = "(?, ?)"
				args = append(args, b.first, b.last)
			}
			blocks = blocks[n:]
			args = append(append(args, wargs...), limit-len(events))
			conds := append(append([]string(nil), where...), "id BETWEEN blk.first_id AND blk.last_id")
			q := "WITH blk(first_id, last_id) AS (VALUES " + strings.Join(values, ", ") + ") SELECT " +
				sqlstore.AuditSelectList + " FROM blk CROSS JOIN audit_events NOT INDEXED WHERE " + strings.Join(conds, " AND ") +
				" ORDER BY id DESC LIMIT ?"
			got, err := query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			events = append(events, got...)
		}
	}
	return events, nil
}

var _ sqlstore.AuditIDRanger = blockIndex{}

// IDRange implements sqlstore.AuditIDRanger from the time blocks: the ids
// of every block whose times overlap [since, until).
func (blockIndex) IDRange(ctx context.Context, read *sql.DB, since, until time.Time) (int64, int64, bool, error) {
	return timeWindow(ctx, read, store.AuditFilter{Since: since, Until: until})
}
