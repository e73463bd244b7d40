package storetest

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// RunDialect checks a sqlstore.Dialect against its database, through db:
// that Classify maps the driver's real constraint errors, and that times,
// booleans and permissions survive a round trip in the dialect's encoding.
// valuesDDL creates table x (id INTEGER PRIMARY KEY, at, b, p) with the
// column types the dialect's migrations use for a time, a boolean and a
// token's permissions.
func RunDialect(t *testing.T, d sqlstore.Dialect, db *sql.DB, valuesDDL string) {
	exec := func(q string, args ...any) error {
		if d.Placeholders() == sqlstore.Dollar {
			q = sqlstore.Rebind(q)
		}
		_, err := db.ExecContext(t.Context(), q, args...)
		return err
	}
	queryRow := func(q string, args ...any) *sql.Row {
		if d.Placeholders() == sqlstore.Dollar {
			q = sqlstore.Rebind(q)
		}
		return db.QueryRowContext(t.Context(), q, args...)
	}
	t.Run("Classify", func(t *testing.T) {
		for _, q := range []string{
			`CREATE TABLE p (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL)`,
			`CREATE TABLE c (p_id INTEGER NOT NULL REFERENCES p (id))`,
			`INSERT INTO p (id, u, n) VALUES (1, 'a', 'x')`,
		} {
			must(t, q, exec(q))
		}
		for _, tt := range []struct {
			q    string
			want error
		}{
			{`INSERT INTO p (id, u, n) VALUES (2, 'a', 'x')`, store.ErrConflict}, // unique
			{`INSERT INTO p (id, u, n) VALUES (1, 'b', 'x')`, store.ErrConflict}, // primary key
			{`INSERT INTO c (p_id) VALUES (99)`, store.ErrNotFound},              // foreign key
			{`INSERT INTO p (id, u, n) VALUES (3, 'c', NULL)`, nil},              // not null
			{`SELEC 1`, nil}, // syntax
		} {
			err := exec(tt.q)
			if err == nil {
				t.Fatalf("%s succeeded", tt.q)
			}
			if got := d.Classify(err); got != tt.want {
				t.Errorf("%s: Classify(%v) = %v, want %v", tt.q, err, got, tt.want)
			}
		}
		if got := d.Classify(sql.ErrNoRows); got != nil {
			t.Errorf("Classify(ErrNoRows) = %v; the store maps it, not the dialect", got)
		}
	})
	t.Run("Encodings", func(t *testing.T) {
		must(t, "create x", exec(valuesDDL))
		for i, at := range []time.Time{
			{},
			time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600)),
			time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC),
			time.Unix(0, 0),
		} {
			perms, err := d.EncodePermissions(nil)
			must(t, "encode no permissions", err)
			must(t, "insert", exec(`INSERT INTO x (id, at, b, p) VALUES (?, ?, ?, ?)`, i, d.EncodeTime(at), d.EncodeBool(i%2 == 0), perms))
			var (
				got any
				b   bool
			)
			must(t, "select", queryRow(`SELECT at, b FROM x WHERE id = ?`, i).Scan(&got, &b))
			dec, err := d.DecodeTime(got)
			if err != nil || !dec.Equal(store.NormalizeTime(at)) || !at.IsZero() && dec.Location() != time.UTC {
				t.Errorf("time %v: stored %v, decoded %v (%v)", at, got, dec, err)
			}
			if b != (i%2 == 0) {
				t.Errorf("boolean %v read back as %v", i%2 == 0, b)
			}
		}
		if _, err := d.DecodeTime("2026-01-01"); err == nil {
			t.Error("DecodeTime accepted a string")
		}
		for i, perms := range [][]string{nil, {}, {"app:read"}, {"a,b", `q"uote`, "{brace}", "NULL", "", "spa ce", "ü", `back\slash`, "[x]"}} {
			enc, err := d.EncodePermissions(perms)
			must(t, "encode permissions", err)
			must(t, "insert", exec(`INSERT INTO x (id, b, p) VALUES (?, ?, ?)`, 100+i, d.EncodeBool(true), enc))
			var got any
			must(t, "select", queryRow(`SELECT p FROM x WHERE id = ?`, 100+i).Scan(&got))
			dec, err := d.DecodePermissions(got)
			if err != nil || dec == nil || len(perms) > 0 && !slices.Equal(dec, perms) || len(perms) == 0 && len(dec) != 0 {
				t.Errorf("permissions %q: stored %q, decoded %q (%v)", perms, got, dec, err)
			}
		}
	})
}
