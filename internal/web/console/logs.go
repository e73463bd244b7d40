package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// The live log page of an app: the page (logs.html) and the plain-text
// stream it reads (logs.js, same origin). The stream follows the app's
// log websocket through the proxy as the signed-in person
// (proxy.Handler.Follow): authorized with log:read, audited, and cut like
// the CLI's `convox logs` when the session ends or the role loses the
// right. Rack output is never HTML here: the stream is text/plain under a
// sandbox policy, and the script appends it as text.

//go:embed static/logs.js
var logsJS []byte

// logsJSV is logs.js's content hash, appended to its URL.
var logsJSV = func() string {
	sum := sha256.Sum256(logsJS)
	return hex.EncodeToString(sum[:6])
}()

// DefaultLogStreamLimit bounds one followed log stream; the page offers
// to follow again.
const DefaultLogStreamLimit = 30 * time.Minute

// maxLogLine bounds one line of the stream; the rest of a longer line is
// dropped and the cut marked.
const maxLogLine = 4096

// maxLogFilter bounds the filter a person may type.
const maxLogFilter = 200

// logSinces are the offered starting points of the history, the first the
// default.
var logSinces = []string{"5m", "1m", "15m", "1h", "6h", "24h"}

// logStreamPolicy: the stream is data only, never a document that runs.
const logStreamPolicy = "sandbox; default-src 'none'"

func (c *console) routesLogs(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/logs.js", c.serveLogsJS)
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/logs", c.page(c.logsPage))
	mux.HandleFunc("GET /racks/{rack}/apps/{app}/logs/stream", c.page(c.logsStream))
}

// serveLogsJS serves logs.js, linked with a content hash like the
// stylesheet.
func (c *console) serveLogsJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "logs.js", time.Time{}, bytes.NewReader(logsJS))
}

// logOptions are the page's choices, checked.
type logOptions struct {
	Since  string
	Filter string
}

func parseLogOptions(query url.Values) (logOptions, error) {
	o := logOptions{Since: query.Get("since"), Filter: query.Get("filter")}
	if o.Since == "" {
		o.Since = logSinces[0]
	}
	known := false
	for _, s := range logSinces {
		known = known || s == o.Since
	}
	if !known {
		return o, fmt.Errorf("since must be one of %s", strings.Join(logSinces, ", "))
	}
	if len(o.Filter) > maxLogFilter {
		return o, fmt.Errorf("the filter is longer than %d characters", maxLogFilter)
	}
	for _, r := range o.Filter {
		if !unicode.IsPrint(r) {
			return o, fmt.Errorf("the filter has characters that cannot be sent")
		}
	}
	return o, nil
}

func (o logOptions) query() string {
	v := url.Values{"since": {o.Since}}
	if o.Filter != "" {
		v.Set("filter", o.Filter)
	}
	return v.Encode()
}

// logsData is the log page.
type logsData struct {
	Rack, App string
	AppURL    string
	Stream    string // the plain-text stream's URL
	Options   logOptions
	Sinces    []string
	Limit     string
}

// logsStart checks what the page and the stream share: rack, app,
// options, and that the person may read logs. It answers and returns
// false when they cannot go on.
func (c *console) logsStart(q *request) (string, logOptions, bool) {
	app, ok := c.selectApp(q)
	if !ok {
		return "", logOptions{}, false
	}
	o, err := parseLogOptions(q.r.URL.Query())
	if err != nil {
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad request", "The logs cannot be shown: "+err.Error()+".")
		return "", o, false
	}
	if !c.allows(q, "SOCKET", "/apps/"+url.PathEscape(app)+"/logs") {
		c.renderError(q.w, q.r, q, http.StatusForbidden, "Permission denied",
			fmt.Sprintf("Your role (%s on rack %s) does not allow reading logs.", q.p.RoleOn(q.rack), q.rack))
		return "", o, false
	}
	return app, o, true
}

// logsPage is the live log page.
func (c *console) logsPage(q *request) {
	app, o, ok := c.logsStart(q)
	if !ok {
		return
	}
	appURL := "/racks/" + url.PathEscape(q.rack) + "/apps/" + url.PathEscape(app)
	d := logsData{Rack: q.rack, App: app, AppURL: appURL, Stream: appURL + "/logs/stream?" + o.query(), Options: o,
		Sinces: logSinces, Limit: duration(c.logLimit())}
	v := view{Title: "Logs of " + app, Data: d, Script: "/static/logs.js?v=" + logsJSV}
	q.w.Header().Set("Content-Security-Policy", scriptPolicy)
	c.renderView(q.w, q.r, q, http.StatusOK, "logs", "", v)
}

func (c *console) logLimit() time.Duration {
	if c.o.LogStreamLimit > 0 {
		return c.o.LogStreamLimit
	}
	return DefaultLogStreamLimit
}

// logsStream follows the app's logs as plain text until the rack ends
// them, the person goes away, their access ends or the limit is reached.
func (c *console) logsStream(q *request) {
	app, o, ok := c.logsStart(q)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), c.logLimit())
	defer cancel()
	hdr := http.Header{"Follow": {"true"}, "Prefix": {"true"}, "Since": {sinceHeader(o.Since)}}
	if o.Filter != "" {
		hdr.Set("Filter", o.Filter)
	}
	s, ans, err := c.o.Proxy.Follow(ctx, proxy.RackFollow{Rack: q.rack, Path: "/apps/" + url.PathEscape(app) + "/logs",
		Header: hdr, Credential: q.token, For: q.r})
	h := q.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Security-Policy", logStreamPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // a buffering proxy in front would hold lines back
	if err != nil {
		c.log.Error("console: log stream", "err", err, "request_id", q.actor.RequestID)
		q.w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintln(q.w, "rack-gateway: the logs could not be opened; try again shortly")
		return
	}
	if s == nil {
		_, _, msg := refusalOf(ans)
		q.w.WriteHeader(ans.Status)
		fmt.Fprintln(q.w, "rack-gateway: "+msg)
		return
	}
	defer s.Close()
	rc := http.NewResponseController(q.w)
	q.w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	lw := &lineLimiter{w: q.w, max: maxLogLine}
	for {
		data, err := s.Next()
		if err != nil {
			break
		}
		if _, err := lw.Write(data); err != nil {
			return // the person went away
		}
		if rc.Flush() != nil {
			return
		}
	}
	why := "the stream ended"
	switch {
	case q.r.Context().Err() != nil:
		return
	case ctx.Err() != nil:
		why = "the stream reached its limit of " + duration(c.logLimit()) + "; reload to follow again"
	}
	lw.end()
	fmt.Fprintln(q.w, "-- rack-gateway: "+why+" --")
	_ = rc.Flush()
}

// sinceHeader is the rack's Since option (a Go duration) for a choice.
func sinceHeader(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return "5m0s"
	}
	return d.String()
}

// lineLimiter writes a stream through, cutting lines longer than max.
type lineLimiter struct {
	w   interface{ Write([]byte) (int, error) }
	max int
	n   int  // bytes of the current line written
	cut bool // the current line was cut
}

func (l *lineLimiter) Write(p []byte) (int, error) {
	n := len(p)
	var out []byte
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if room := l.max - l.n; room > 0 {
			take := min(room, len(seg))
			out = append(out, seg[:take]...)
			l.n += take
			if take < len(seg) && !l.cut {
				out = append(out, " …[line cut]"...)
				l.cut = true
			}
		} else if len(seg) > 0 && !l.cut {
			out = append(out, " …[line cut]"...)
			l.cut = true
		}
		if i < 0 {
			break
		}
		out = append(out, '\n')
		l.n, l.cut = 0, false
		p = p[i+1:]
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// end finishes an unfinished last line.
func (l *lineLimiter) end() {
	if l.n > 0 || l.cut {
		_, _ = l.w.Write([]byte{'\n'})
		l.n, l.cut = 0, false
	}
}
