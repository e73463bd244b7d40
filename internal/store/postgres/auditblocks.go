package postgres

import "github.com/rack-gateway/rack-gateway/internal/store/sqlstore"

// blockSQL is PostgreSQL's block index (migration 0013): each batch of rows
// goes in as one array per column, so the statement is prepared once and
// sent once whatever the batch size.
var blockSQL = sqlstore.BlockSQL{
	InsertPostings: `INSERT INTO audit_blocks (kind, value, last_id, first_id)
		SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[])
		ON CONFLICT DO NOTHING`,
	InsertTimeBlocks: `INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
		SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])
		ON CONFLICT (last_id) DO UPDATE SET first_id = LEAST(audit_time_blocks.first_id, EXCLUDED.first_id),
			min_at = LEAST(audit_time_blocks.min_at, EXCLUDED.min_at), max_at = GREATEST(audit_time_blocks.max_at, EXCLUDED.max_at)`,
	EncodePostings: func(rows []sqlstore.Posting) []any {
		kind, value := make([]string, len(rows)), make([]string, len(rows))
		last, first := make([]int64, len(rows)), make([]int64, len(rows))
		for i, p := range rows {
			kind[i], value[i], last[i], first[i] = p.Kind, p.Value, p.Last, p.First
		}
		return []any{kind, value, last, first}
	},
	EncodeTimeBlocks: func(rows []sqlstore.TimeBlock) []any {
		last, first := make([]int64, len(rows)), make([]int64, len(rows))
		minAt, maxAt := make([]int64, len(rows)), make([]int64, len(rows))
		for i, t := range rows {
			last[i], first[i], minAt[i], maxAt[i] = t.Last, t.First, t.MinAt, t.MaxAt
		}
		return []any{last, first, minAt, maxAt}
	},
	Lateral: true,
}
