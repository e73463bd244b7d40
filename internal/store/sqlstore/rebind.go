package sqlstore

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// maxRebound bounds the rebind cache. The statements are constants or
// built from a bounded set of parts (filters, chunk sizes), so the bound
// is a guard, not a working limit.
const maxRebound = 4096

// rebinder turns the shared '?' queries into the dialect's syntax, once
// per statement text.
type rebinder struct {
	style Placeholders
	cache sync.Map // query -> rebound query
	n     atomic.Int64
}

// q returns query in the dialect's placeholder syntax.
func (r *rebinder) q(query string) string {
	if r.style == Question {
		return query
	}
	if v, ok := r.cache.Load(query); ok {
		return v.(string)
	}
	out := Rebind(query)
	if r.n.Add(1) <= maxRebound {
		r.cache.Store(query, out)
	}
	return out
}

// Rebind returns q with its '?' placeholders numbered $1, $2, ... in
// order. Question marks inside quoted strings ('...'), quoted identifiers
// ("...") and comments (-- and /* */) are kept. The shared queries use no
// dollar-quoted strings or E” escapes, which Rebind does not know.
func Rebind(q string) string {
	var (
		b strings.Builder
		n int
	)
	b.Grow(len(q) + 8)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			// A doubled quote ends this literal and starts another, so
			// copying up to each closing quote handles escapes too.
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end])
			i += end - 1
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+4])
			i += end + 3
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
