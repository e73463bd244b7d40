package simrack

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// handlerFunc is a rack route handler. A returned *apiError carries its
// status code; any other error is a 500, as in stdapi.
type handlerFunc func(c *ctx) error

// Method pseudo-values of the route table, as in stdapi.Router.Route.
const (
	methodSocket = "SOCKET" // GET that matches only with `Upgrade: websocket`
	methodAny    = "ANY"    // any method
)

// route is one entry of the rack's route table.
type route struct {
	method string
	tmpl   string
	name   string
	fn     handlerFunc
	// noAuthorize skips the role check (only GET /auth, which the rack
	// registers outside the Authorize middleware).
	noAuthorize bool

	re    *regexp.Regexp
	names []string
}

// router matches requests the way the rack's gorilla/mux router does:
// routes are tried in registration order, a route whose path matches but
// whose method does not only records a "method mismatch" (answered 405 when
// nothing else matches), and SOCKET routes are skipped entirely without the
// upgrade header (so they answer 404, not 405).
type router struct {
	routes []*route
}

func newRouter(routes []*route) *router {
	for _, rt := range routes {
		rt.re, rt.names = compileTemplate(rt.tmpl)
	}
	return &router{routes: routes}
}

// match returns the matching route and its variables, or nil and the status
// (404 or 405) to answer with.
func (rr *router) match(r *http.Request) (*route, map[string]string, int) {
	path := r.URL.Path // not cleaned: the rack's mux runs with SkipClean(true)
	mismatch := false
	for _, rt := range rr.routes {
		m := rt.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		switch rt.method {
		case methodAny:
		case methodSocket:
			// mux evaluates path, then method, then headers: a missing
			// upgrade header fails the route outright (no 405).
			if !headerHasValue(r.Header, "Upgrade", "websocket") {
				continue
			}
			if r.Method != http.MethodGet {
				mismatch = true
				continue
			}
		default:
			if r.Method != rt.method {
				mismatch = true
				continue
			}
		}
		vars := make(map[string]string, len(rt.names))
		for i, n := range rt.names {
			vars[n] = m[i+1]
		}
		return rt, vars, 0
	}
	if mismatch {
		return nil, nil, http.StatusMethodNotAllowed
	}
	return nil, nil, http.StatusNotFound
}

// compileTemplate turns a mux path template such as
// "/apps/{app}/objects/{key:.*}" or "/apps/{app}/builds/{id}.tgz" into an
// anchored regexp; variables default to `[^/]+`.
func compileTemplate(tmpl string) (*regexp.Regexp, []string) {
	var b strings.Builder
	var names []string
	b.WriteString("^")
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			panic(fmt.Sprintf("simrack: unbalanced braces in route %q", tmpl))
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		name, pattern, ok := strings.Cut(rest[i+1:i+j], ":")
		if !ok {
			pattern = "[^/]+"
		}
		names = append(names, name)
		fmt.Fprintf(&b, "(%s)", pattern)
		rest = rest[i+j+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()), names
}

// headerHasValue reports whether one of the values of header name equals
// value exactly, which is how mux's Headers matcher compares.
func headerHasValue(h http.Header, name, value string) bool {
	for _, v := range h.Values(name) {
		if v == value {
			return true
		}
	}
	return false
}

// isUpgrade reports a websocket upgrade request for the request log.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}
