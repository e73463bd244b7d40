package sqlite

import (
	"encoding/hex"
	"strconv"

	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// blockSQL is SQLite's block index (migrations 0004 and 0013): each batch
// of rows goes in as one JSON array argument, each row an array of the
// columns (a posting's value in hex, so that every byte of it arrives as
// it was, whatever the value holds). One statement text for any number of
// rows lets the store prepare it once; building a multi-row VALUES
// statement per append and parsing it cost about as much as the rows.
var blockSQL = sqlstore.BlockSQL{
	InsertPostings: `INSERT OR IGNORE INTO audit_blocks (kind, value, last_id, first_id)
		SELECT json_extract(value, '$[0]'), CAST(unhex(json_extract(value, '$[1]')) AS TEXT),
			json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?)`,
	// WHERE true: an INSERT ... SELECT needs it before ON CONFLICT.
	InsertTimeBlocks: `INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
		SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),
			json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?) WHERE true
		ON CONFLICT (last_id) DO UPDATE SET first_id = min(audit_time_blocks.first_id, excluded.first_id),
			min_at = min(audit_time_blocks.min_at, excluded.min_at), max_at = max(audit_time_blocks.max_at, excluded.max_at)`,
	EncodePostings: func(rows []sqlstore.Posting) []any {
		b := []byte{'['}
		for _, p := range rows {
			b = jsonRow(b, `"`+p.Kind+`"`, `"`+hex.EncodeToString([]byte(p.Value))+`"`, p.Last, p.First)
		}
		return []any{string(append(b, ']'))}
	},
	EncodeTimeBlocks: func(rows []sqlstore.TimeBlock) []any {
		b := []byte{'['}
		for _, t := range rows {
			b = jsonRow(b, t.Last, t.First, t.MinAt, t.MaxAt)
		}
		return []any{string(append(b, ']'))}
	},
	// CROSS JOIN keeps the blocks the outer loop, so SQLite seeks each id
	// range instead of scanning; NOT INDEXED keeps it on those rowid
	// ranges (a denied-events index must not be walked for every block).
	ListFrom: "blk CROSS JOIN audit_events NOT INDEXED",
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
