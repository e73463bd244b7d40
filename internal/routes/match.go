package routes

import (
	"fmt"
	"strings"
)

// maxParams bounds the parameters of one route; the table has at most 3.
const maxParams = 4

// Params holds the path parameters of a match without allocating.
type Params struct {
	n    int
	keys [maxParams]string
	vals [maxParams]string
}

// Get returns the named parameter, or "".
func (p *Params) Get(name string) string {
	for i := 0; i < p.n; i++ {
		if p.keys[i] == name {
			return p.vals[i]
		}
	}
	return ""
}

func (p *Params) add(k, v string) {
	p.keys[p.n], p.vals[p.n] = k, v
	p.n++
}

// Match is a matched request.
type Match struct {
	Route  *Route
	Params Params
}

// App returns the app the request is about ("" for rack-level routes).
func (m *Match) App() string { return m.Params.Get("app") }

// Resource returns the most specific named object of the request (process,
// build, release, resource, service, object key…), or "".
func (m *Match) Resource() string {
	if m.Params.n == 0 {
		return ""
	}
	last := m.Params.n - 1
	if m.Params.keys[last] == "app" {
		return ""
	}
	return m.Params.vals[last]
}

// node is one segment position in the routing trie. Precedence at each
// position: literal, then "{param}.suffix", then "{param}", then "{rest...}".
type node struct {
	literal  map[string]*node
	suffixes []suffixEdge
	param    *node
	pname    string
	rest     *Route
	rname    string
	route    *Route
}

type suffixEdge struct {
	suffix, name string
	next         *node
}

// Matcher finds the route for a request. It is built once from a table;
// matching does no allocation and no regular expressions.
type Matcher struct {
	roots map[matchKey]*node
}

type matchKey struct {
	method    string
	websocket bool
}

// Default returns the matcher for the route table. The routes it matches
// are the table's own: read them, never change them.
func Default() *Matcher { return defaultMatcher }

var defaultMatcher = MustCompile(table)

// MustCompile builds a matcher and panics on an ambiguous table.
func MustCompile(table []Route) *Matcher {
	m, err := Compile(table)
	if err != nil {
		panic(err)
	}
	return m
}

// Compile builds a matcher from a table, rejecting duplicate routes.
func Compile(table []Route) (*Matcher, error) {
	m := &Matcher{roots: map[matchKey]*node{}}
	for i := range table {
		r := &table[i]
		k := matchKey{r.Method, r.Websocket}
		root := m.roots[k]
		if root == nil {
			root = &node{}
			m.roots[k] = root
		}
		if err := root.insert(r); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (n *node) insert(r *Route) error {
	if !strings.HasPrefix(r.Path, "/") {
		return fmt.Errorf("routes: %s %s: path must start with /", r.Method, r.Path)
	}
	segs := strings.Split(r.Path[1:], "/")
	cur := n
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			if i != len(segs)-1 {
				return fmt.Errorf("routes: %s: {x...} must be last", r.Path)
			}
			if cur.rest != nil {
				return fmt.Errorf("routes: duplicate %s %s", r.Method, r.Path)
			}
			cur.rest, cur.rname = r, s[1:len(s)-4]
			return nil
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if cur.param == nil {
				cur.param, cur.pname = &node{}, name
			} else if cur.pname != name {
				return fmt.Errorf("routes: %s: parameter {%s} conflicts with {%s}", r.Path, name, cur.pname)
			}
			cur = cur.param
		case strings.HasPrefix(s, "{"):
			end := strings.Index(s, "}")
			if end < 0 {
				return fmt.Errorf("routes: %s: bad segment %q", r.Path, s)
			}
			name, suffix := s[1:end], s[end+1:]
			var next *node
			for _, e := range cur.suffixes {
				if e.suffix == suffix && e.name == name {
					next = e.next
				}
			}
			if next == nil {
				next = &node{}
				cur.suffixes = append(cur.suffixes, suffixEdge{suffix, name, next})
			}
			cur = next
		default:
			if cur.literal == nil {
				cur.literal = map[string]*node{}
			}
			next := cur.literal[s]
			if next == nil {
				next = &node{}
				cur.literal[s] = next
			}
			cur = next
		}
	}
	if cur.route != nil {
		return fmt.Errorf("routes: duplicate %s %s", r.Method, r.Path)
	}
	cur.route = r
	return nil
}

// Match finds the route for method and path (a cleaned, validated path; see
// CheckPath). websocket tells whether the request asks for an upgrade.
func (m *Matcher) Match(method, path string, websocket bool) (Match, bool) {
	var res Match
	root := m.roots[matchKey{method, websocket}]
	if root == nil || len(path) == 0 || path[0] != '/' {
		return res, false
	}
	r := root.match(path[1:], &res.Params)
	if r == nil {
		return res, false
	}
	res.Route = r
	return res, true
}

// match walks the trie with backtracking, so a literal that leads nowhere
// falls back to a parameter at the same position.
func (n *node) match(rest string, p *Params) *Route {
	seg, tail, more := strings.Cut(rest, "/")
	if n.literal != nil {
		if next := n.literal[seg]; next != nil {
			if r := next.matchNext(tail, more, p); r != nil {
				return r
			}
		}
	}
	mark := p.n
	if seg != "" {
		for _, e := range n.suffixes {
			if len(seg) > len(e.suffix) && strings.HasSuffix(seg, e.suffix) {
				p.add(e.name, seg[:len(seg)-len(e.suffix)])
				if r := e.next.matchNext(tail, more, p); r != nil {
					return r
				}
				p.n = mark
			}
		}
		if n.param != nil {
			p.add(n.pname, seg)
			if r := n.param.matchNext(tail, more, p); r != nil {
				return r
			}
			p.n = mark
		}
	}
	if n.rest != nil {
		p.add(n.rname, rest)
		return n.rest
	}
	return nil
}

func (n *node) matchNext(tail string, more bool, p *Params) *Route {
	if !more {
		return n.route
	}
	return n.match(tail, p)
}
