package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// stubDialect classifies errConstraint and errReference like a driver's
// unique and foreign-key violations.
type stubDialect struct{ audit AuditSQL }

var (
	errConstraint = errors.New("driver: UNIQUE constraint failed")
	errReference  = errors.New("driver: FOREIGN KEY constraint failed")
)

func (stubDialect) Name() string                              { return "stub" }
func (stubDialect) Placeholders() Placeholders                { return Question }
func (stubDialect) EncodeTime(t time.Time) any                { return t }
func (stubDialect) DecodeTime(any) (time.Time, error)         { return time.Time{}, nil }
func (stubDialect) EncodeBool(b bool) any                     { return b }
func (stubDialect) EncodePermissions([]string) (any, error)   { return "", nil }
func (stubDialect) DecodePermissions(any) ([]string, error)   { return []string{}, nil }
func (stubDialect) Lock(context.Context, *sql.Tx, Lock) error { return nil }
func (stubDialect) MigrationsTable() string                   { return "" }
func (d stubDialect) Audit() AuditSQL                         { return d.audit }
func (stubDialect) Classify(err error) error {
	switch {
	case errors.Is(err, errConstraint):
		return store.ErrConflict
	case errors.Is(err, errReference):
		return store.ErrNotFound
	}
	return nil
}

func TestWrapClassifies(t *testing.T) {
	s := &Store{d: stubDialect{}}
	other := errors.New("driver: disk I/O error")
	tests := []struct {
		err      error
		sentinel error // nil: neither sentinel
		keeps    error // still in the chain
	}{
		{sql.ErrNoRows, store.ErrNotFound, nil},
		{fmt.Errorf("scan: %w", sql.ErrNoRows), store.ErrNotFound, nil},
		{errConstraint, store.ErrConflict, errConstraint},
		{errReference, store.ErrNotFound, errReference},
		{other, nil, other},
		{context.Canceled, nil, context.Canceled},
	}
	for _, tt := range tests {
		got := s.wrap("do thing", tt.err)
		if !strings.HasPrefix(got.Error(), "stub: do thing: ") {
			t.Errorf("wrap(%v) = %q, want the dialect and operation first", tt.err, got)
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict} {
			if errors.Is(got, sentinel) != (sentinel == tt.sentinel) {
				t.Errorf("wrap(%v) = %v: errors.Is(%v) = %v", tt.err, got, sentinel, !(sentinel == tt.sentinel))
			}
		}
		if tt.keeps != nil && !errors.Is(got, tt.keeps) {
			t.Errorf("wrap(%v) = %v lost the driver error", tt.err, got)
		}
	}
	if s.wrap("x", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
}

func TestChunkPlan(t *testing.T) {
	for _, chunks := range [][]int{{128, 32, 8, 1}, {512, 256, 128, 64, 32, 16, 8, 4, 2, 1}} {
		s := &Store{audit: AuditSQL{Chunks: chunks}}
		for n := 1; n <= 1100; n++ {
			plan := s.chunkPlan(n)
			sum := 0
			for i, k := range plan {
				if i > 0 && k < plan[i-1] {
					t.Fatalf("chunks %v, %d rows: plan %v not largest first", chunks, n, plan)
				}
				sum += chunks[k]
			}
			if sum != n {
				t.Fatalf("chunks %v, %d rows: plan %v writes %d", chunks, n, plan, sum)
			}
			if chunks[0] == 512 && n <= 1023 && len(plan) != bits.OnesCount(uint(n)) {
				t.Fatalf("%d rows in %d statements, want one per set bit", n, len(plan))
			}
		}
	}
}

func TestAuditInsertQuery(t *testing.T) {
	explicit := auditInsertQuery(AuditSQL{InsertVerb: "INSERT OR ROLLBACK", LastID: "7"}, 3)
	if !strings.HasPrefix(explicit, "INSERT OR ROLLBACK INTO audit_events (id, occurred_at,") ||
		strings.Contains(explicit, "RETURNING") || strings.Count(explicit, "?") != 3*(len(auditColumns)+1) {
		t.Errorf("explicit ids: %s", explicit)
	}
	generated := auditInsertQuery(AuditSQL{InsertVerb: "INSERT"}, 2)
	if !strings.HasPrefix(generated, "INSERT INTO audit_events (occurred_at,") ||
		!strings.HasSuffix(generated, " RETURNING id, seq") || strings.Count(generated, "?") != 2*len(auditColumns) {
		t.Errorf("generated ids: %s", generated)
	}
	if q := auditTailQuery(""); !strings.HasPrefix(q, "SELECT 0, head.seq") {
		t.Errorf("tail without LastID: %s", q)
	}
}

func TestAuditWhereRoundsTimesUp(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 1500, time.UTC)
	where, args := AuditWhere(store.AuditFilter{Actor: "a", Since: at, Until: at.Add(500), BeforeID: 9},
		func(t time.Time) any { return t })
	if got := strings.Join(where, " AND "); got != "actor = ? AND occurred_at >= ? AND occurred_at < ? AND id < ?" {
		t.Fatalf("where = %s", got)
	}
	if !args[1].(time.Time).Equal(at.Add(500)) || !args[2].(time.Time).Equal(at.Add(500)) {
		t.Fatalf("times not rounded up to the microsecond: %v", args)
	}
}

func TestNewRefusesChunksThatLeaveRows(t *testing.T) {
	for _, chunks := range [][]int{nil, {8, 2}, {1, 8}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted audit chunks %v", chunks)
				}
			}()
			New(Config{Dialect: stubDialect{audit: AuditSQL{Chunks: chunks}}})
		}()
	}
	New(Config{Dialect: stubDialect{audit: AuditSQL{Chunks: []int{4, 1}}}})
}

func TestAuditSelectListMatchesColumns(t *testing.T) {
	want := "id, " + strings.Join(auditColumns[:len(auditColumns)-2], ", ") + ", COALESCE(seq, 0), COALESCE(hash, '')"
	if AuditSelectList != want {
		t.Fatalf("AuditSelectList = %q\nwant %q", AuditSelectList, want)
	}
	var e chain.Event
	s := &Store{d: stubDialect{}}
	if n := len(s.auditTargets(&e)); n != len(auditColumns)+1 {
		t.Fatalf("%d scan targets for %d columns", n, len(auditColumns)+1)
	}
	if n := len(s.appendAuditValues(nil, &e)); n != len(auditColumns) {
		t.Fatalf("%d values for %d columns", n, len(auditColumns))
	}
}
