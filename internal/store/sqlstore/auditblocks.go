package sqlstore

// The block index of the audit log (SQLite's migrations 0004, 0013 and
// 0014, PostgreSQL's 0013), one implementation for both databases: a dialect
// gives the two INSERTs and how their arguments are encoded (BlockSQL).
//
// The ids are cut into aligned blocks of blockSize (ids k*blockSize to
// k*blockSize+blockSize-1). Every append records the distinct actors, apps
// and actions of its events, and the distinct pairs of the actor with the
// app, the action and the rack, and of the app with the action, once per
// block: a posting (kind, value, block's last id, block's first id) that
// the block already has is not written again (the dialect's insert skips
// it), so a value costs one row per block whether the gateway commits 1
// event at a time or 500. Each append also widens its blocks' ranges of
// event times (audit_time_blocks, a row per block: the one update these
// tables allow, and it can only widen). A listing filtered by actor, app,
// action or time walks the matching blocks newest first and reads only
// their id ranges, so it stays fast on a large log without per-event
// indexes, which would cost a b-tree insertion each per event.
//
// Postings written by SQLite before blocks were aligned span the ids of
// one append batch instead, so a value's postings may overlap; the cursor
// clips them (blockCursor.next) so that no event is listed twice.

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// BlockSQL is how a dialect stores the block index.
type BlockSQL struct {
	// InsertPostings writes a batch's postings in one statement, skipping
	// those already there (same kind, value and last id), from the
	// arguments EncodePostings returns; InsertTimeBlocks writes its time
	// blocks from those of EncodeTimeBlocks, widening the range of a block
	// already there to cover both (never narrowing it). Both in '?' syntax.
	InsertPostings, InsertTimeBlocks string
	EncodePostings                   func([]Posting) []any
	EncodeTimeBlocks                 func([]TimeBlock) []any
	// ListFrom is the FROM clause of a listing over blocks: the rows
	// blk(first_id, last_id) joined with audit_events, so that the
	// database seeks each block's id range (the WHERE clause has
	// "id BETWEEN blk.first_id AND blk.last_id").
	ListFrom string
	// Lateral, instead of ListFrom, lists each block's newest matching
	// events in a subquery of its own (CROSS JOIN LATERAL). PostgreSQL
	// needs it: given the join, its planner walks the primary key down
	// from the newest event, testing every row against the blocks.
	Lateral bool
}

// Posting is a row of audit_blocks: the block from First to Last holds
// events with Value of Kind.
type Posting struct {
	Kind, Value string
	Last, First int64
}

// TimeBlock is a row of audit_time_blocks: the events of the block from id
// First to Last have times (microseconds since the epoch) from MinAt to
// MaxAt. Event times are not in id order (an outcome is stamped with its
// call's start, however long the call ran), hence a range per block.
type TimeBlock struct{ Last, First, MinAt, MaxAt int64 }

// BlockIndex is the block index of a store's audit log.
type BlockIndex struct {
	sql        BlockSQL
	encodeTime func(time.Time) any
	postings   string // postingQuery, rebound
	times      string // timeQuery, rebound
	window     string // timeWindowQuery, rebound
}

// NewBlockIndex returns the block index of d's database.
func NewBlockIndex(d Dialect, b BlockSQL) *BlockIndex {
	rb := rebinder{style: d.Placeholders()}
	return &BlockIndex{sql: b, encodeTime: d.EncodeTime,
		postings: rb.q(postingQuery), times: rb.q(timeQuery), window: rb.q(timeWindowQuery)}
}

// Writes are the statements Add runs, in '?' syntax. The store prepares
// them once, before each append's transaction (SQLite's driver keeps no
// statement cache, and its write pool has one connection, which the
// transaction holds).
func (x *BlockIndex) Writes() []string {
	return []string{x.sql.InsertPostings, x.sql.InsertTimeBlocks}
}

// Add records events, just inserted in a transaction with the given ids
// and their stored Times, with writes: the prepared Writes bound to that
// transaction.
func (x *BlockIndex) Add(ctx context.Context, writes []*sql.Stmt, events []*chain.Event, ids []int64) error {
	postings, times := blockRows(events, ids)
	if len(postings) > 0 {
		if _, err := writes[0].ExecContext(ctx, x.sql.EncodePostings(postings)...); err != nil {
			return err
		}
	}
	_, err := writes[1].ExecContext(ctx, x.sql.EncodeTimeBlocks(times)...)
	return err
}

// List returns the events matching f, newest first, at most
// store.AuditLimit(f.Limit), reading read with query; ok is false when
// the index cannot serve f and the store runs its plain query instead.
// Filters on actor, app, action and time read only the blocks that can
// match (for two of actor, app, action and rack, the blocks of the pair);
// denied + actor, app or action, and the rest, go to the plain query.
func (x *BlockIndex) List(ctx context.Context, read *sql.DB, f store.AuditFilter, query AuditQuery) ([]chain.Event, bool, error) {
	if f.Decision == "deny" && (f.Actor != "" || f.App != "" || f.Action != "") {
		// The partial indexes of denied events serve these directly; the
		// blocks of an actor would be walked for the ~3% of its events
		// that were refused.
		return nil, false, nil
	}
	c := x.newBlockCursor(read, f)
	if c == nil {
		return nil, false, nil
	}
	if c.query == x.postings && (!f.Since.IsZero() || !f.Until.IsZero()) {
		if err := x.boundByTime(ctx, c, f); err != nil {
			return nil, true, err
		}
	}
	events, err := x.listByBlocks(ctx, f, c, query)
	return events, true, err
}

// blockSize bounds the id span of a block, so a block that matches costs
// at most this many rows to read.
const blockSize = 512

// idRange is a block's ids, first <= last.
type idRange struct{ first, last int64 }

// blockRows returns the postings of events, whose ids are ids, in their
// aligned blocks, and the range of their times (as stored) in each block:
// a row per block and posting, however the ids are ordered, since
// PostgreSQL refuses to update one row twice in a statement.
func blockRows(events []*chain.Event, ids []int64) ([]Posting, []TimeBlock) {
	type block struct {
		seen  map[postingKey]bool
		times TimeBlock
	}
	var (
		postings []Posting
		blocks   []*block // in order of first appearance, for a stable order of rows
		byFirst  = map[int64]*block{}
	)
	for i, e := range events {
		first := ids[i] / blockSize * blockSize
		b := byFirst[first]
		if b == nil {
			b = &block{seen: map[postingKey]bool{}, times: TimeBlock{Last: first + blockSize - 1, First: first,
				MinAt: math.MaxInt64, MaxAt: math.MinInt64}}
			byFirst[first] = b
			blocks = append(blocks, b)
		}
		for _, k := range [...]postingKey{
			{"actor", e.Actor, "", false}, {"app", e.App, "", false}, {"action", e.Action, "", false},
			{KindActorApp, e.Actor, e.App, true},
			{KindActorAction, e.Actor, e.Action, true},
			{KindActorRack, e.Actor, e.Rack, true},
			{KindAppAction, e.App, e.Action, true},
		} {
			if k.empty() || b.seen[k] { // "" never filters (store.AuditFilter)
				continue
			}
			b.seen[k] = true
			postings = append(postings, Posting{Kind: k.kind, Value: k.value(), Last: first + blockSize - 1, First: first})
		}
		at := e.Time.UnixMicro()
		b.times.MinAt, b.times.MaxAt = min(b.times.MinAt, at), max(b.times.MaxAt, at)
	}
	times := make([]TimeBlock, len(blocks))
	for i, b := range blocks {
		times[i] = b.times
	}
	return postings, times
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
// PairValue spells it.
func (k postingKey) value() string {
	if k.pair {
		return PairValue(k.a, k.b)
	}
	return k.a
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
func (x *BlockIndex) newBlockCursor(db *sql.DB, f store.AuditFilter) *blockCursor {
	c := &blockCursor{db: db, before: math.MaxInt64, floor: math.MaxInt64}
	if f.BeforeID > 0 && f.BeforeID < math.MaxInt64-blockSize {
		// A block's last id is below its first + blockSize, so none that
		// starts below BeforeID ends at or above BeforeID+blockSize. The listing
		// query drops the ids >= BeforeID of a block that straddles it.
		c.before = f.BeforeID + blockSize
	}
	switch {
	case f.App != "" && f.Action != "":
		c.query, c.args = x.postings, []any{KindAppAction, PairValue(f.App, f.Action)}
	case f.Actor != "" && f.App != "":
		c.query, c.args = x.postings, []any{KindActorApp, PairValue(f.Actor, f.App)}
	case f.Actor != "" && f.Action != "":
		c.query, c.args = x.postings, []any{KindActorAction, PairValue(f.Actor, f.Action)}
	case f.Actor != "" && f.Rack != "":
		c.query, c.args = x.postings, []any{KindActorRack, PairValue(f.Actor, f.Rack)}
	case f.Actor != "":
		c.query, c.args = x.postings, []any{"actor", f.Actor}
	case f.Action != "":
		c.query, c.args = x.postings, []any{"action", f.Action}
	case f.App != "":
		c.query, c.args = x.postings, []any{"app", f.App}
	case !f.Since.IsZero() || !f.Until.IsZero():
		since, until := timeBounds(f)
		c.query, c.args = x.times, []any{since, until}
	default:
		return nil
	}
	return c
}

// The kinds of pair postings.
const (
	KindActorApp    = "actor+app"
	KindActorAction = "actor+action"
	KindActorRack   = "actor+rack"
	KindAppAction   = "app+action"
)

// PairValue is the posting value of the pair (a, b): a's length in bytes,
// ':', a, then b, so that no two pairs share a value ("a", "bc" and "ab",
// "c" differ). It is "" (no posting) when either is empty. The migrations
// that backfill pairs compute the same in SQL.
func PairValue(a, b string) string {
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
func (x *BlockIndex) timeWindow(ctx context.Context, db *sql.DB, f store.AuditFilter) (lo, hi int64, ok bool, err error) {
	since, until := timeBounds(f)
	err = db.QueryRowContext(ctx, x.window, since, until).Scan(&lo, &hi)
	return lo, hi, err == nil && hi >= lo, err
}

// boundByTime narrows a posting cursor to the ids of f's time range, so an
// actor, app or action listing over one day does not walk the value's
// blocks of the whole log (measured: bench/results/audit-10m.txt).
func (x *BlockIndex) boundByTime(ctx context.Context, c *blockCursor, f store.AuditFilter) error {
	lo, hi, ok, err := x.timeWindow(ctx, c.db, f)
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
		since = CeilMicro(f.Since).UnixMicro()
	}
	if !f.Until.IsZero() {
		until = CeilMicro(f.Until).UnixMicro()
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
func (x *BlockIndex) listByBlocks(ctx context.Context, f store.AuditFilter, c *blockCursor, query AuditQuery) ([]chain.Event, error) {
	limit := store.AuditLimit(f.Limit)
	where, wargs := AuditWhere(f, x.encodeTime)
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
			// The blocks drive the query (BlockSQL.ListFrom), so the
			// database seeks each id range instead of scanning.
			values := make([]string, n)
			args := make([]any, 0, 2*n+len(wargs)+1)
			for i, b := range blocks[:n] {
				values[i] = "(CAST(? AS BIGINT), CAST(? AS BIGINT))"
				args = append(args, b.first, b.last)
			}
			blocks = blocks[n:]
			args = append(append(args, wargs...), limit-len(events))
			conds := strings.Join(append(append([]string(nil), where...), "id BETWEEN blk.first_id AND blk.last_id"), " AND ")
			q := "WITH blk(first_id, last_id) AS (VALUES " + strings.Join(values, ", ") + ") SELECT " + AuditSelectList
			if x.sql.Lateral {
				q += " FROM blk CROSS JOIN LATERAL (SELECT * FROM audit_events WHERE " + conds +
					" ORDER BY id DESC LIMIT ?) AS e ORDER BY id DESC LIMIT ?"
				args = append(args, limit-len(events))
			} else {
				q += " FROM " + x.sql.ListFrom + " WHERE " + conds + " ORDER BY id DESC LIMIT ?"
			}
			got, err := query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			events = append(events, got...)
		}
	}
	return events, nil
}

// IDRange returns the ids of the first and last events that may lie in
// [since, until), from the time blocks whose times overlap it; ok is false
// when no event can.
func (x *BlockIndex) IDRange(ctx context.Context, read *sql.DB, since, until time.Time) (int64, int64, bool, error) {
	return x.timeWindow(ctx, read, store.AuditFilter{Since: since, Until: until})
}
