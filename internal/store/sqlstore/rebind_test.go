package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"VALUES (?,?),(?,?)", "VALUES ($1,$2),($3,$4)"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"SELECT '', ?", "SELECT '', $1"},
		{`SELECT "we?ird" FROM t WHERE x = ?`, `SELECT "we?ird" FROM t WHERE x = $1`},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT ? -- trailing?", "SELECT $1 -- trailing?"},
		{"SELECT /* a ? b */ ?", "SELECT /* a ? b */ $1"},
		{"SELECT /* open ?", "SELECT /* open ?"},
		{"SELECT ?, 'open ?", "SELECT $1, 'open ?"},
		{"a - ? / ?", "a - $1 / $2"},
		{"?", "$1"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRebinderCachesPerStatement(t *testing.T) {
	r := rebinder{style: Dollar}
	q := "SELECT a FROM t WHERE b = ? AND c = ?"
	first := r.q(q)
	if first != "SELECT a FROM t WHERE b = $1 AND c = $2" {
		t.Fatalf("q = %q", first)
	}
	if v, ok := r.cache.Load(q); !ok || v != first {
		t.Fatalf("not cached: %v %v", v, ok)
	}
	if again := r.q(q); again != first || r.n.Load() != 1 {
		t.Fatalf("second call = %q after %d rebinds, want the cached text after 1", again, r.n.Load())
	}
	// Question placeholders are the shared syntax: nothing to rebind or
	// cache.
	sq := rebinder{style: Question}
	if got := sq.q(q); got != q || sq.n.Load() != 0 {
		t.Fatalf("question style rewrote or cached %q", got)
	}
}

func TestRebinderBoundsItsCache(t *testing.T) {
	r := rebinder{style: Dollar}
	r.n.Store(maxRebound)
	if got := r.q("SELECT ?"); got != "SELECT $1" {
		t.Fatalf("q = %q", got)
	}
	if _, ok := r.cache.Load("SELECT ?"); ok {
		t.Fatal("cached beyond the bound")
	}
}

func BenchmarkRebindCached(b *testing.B) {
	r := rebinder{style: Dollar}
	q := selectToken + " WHERE id = ?"
	for b.Loop() {
		_ = r.q(q)
	}
}
