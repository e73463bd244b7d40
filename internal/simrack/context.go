package simrack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ctx is the per-request context handed to handlers, modelled on
// stdapi.Context: route variables, parameter lookup, rendering, and the
// websocket when the route is a SOCKET.
type ctx struct {
	rack *Rack
	w    http.ResponseWriter
	r    *http.Request
	vars map[string]string
	id   string
	who  identity
	ws   *wsConn

	formParsed bool
}

// apiError is an error with an HTTP status, like stdapi.Errorf or the
// provider's structs.HttpError.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return errorf(http.StatusNotFound, format, args...)
}

func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}

// errorCode returns the status of err (500 unless it is an *apiError).
func errorCode(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code
	}
	return http.StatusInternalServerError
}

// writeError renders err as text/plain `<msg>\n`, or as {"error":…} when the
// client accepts application/json (stdapi.writeErrorResponse).
func (c *ctx) writeError(err error) {
	code := errorCode(err)
	if acceptsJSON(c.r) {
		c.w.Header().Set("Content-Type", "application/json")
		c.w.WriteHeader(code)
		_ = json.NewEncoder(c.w).Encode(map[string]string{"error": err.Error()})
		return
	}
	http.Error(c.w, err.Error(), code)
}

func acceptsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.TrimSpace(mt) == "application/json" {
			return true
		}
	}
	return false
}

// Var returns a route variable.
func (c *ctx) Var(name string) string { return c.vars[name] }

// parseForm parses query and form bodies once, like stdapi's
// ParseMultipartForm(8192). Handlers that stream the body never call it.
func (c *ctx) parseForm() {
	if c.formParsed {
		return
	}
	c.formParsed = true
	_ = c.r.ParseMultipartForm(8192)
	if c.r.Form == nil {
		c.r.Form = c.r.URL.Query()
	}
}

// param returns a form (body or query) value, like stdapi's `param` tag.
func (c *ctx) param(name string) (string, bool) {
	c.parseForm()
	v, ok := c.r.Form[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Value is stdapi's c.Value: form or query first, then the header of the
// same name.
func (c *ctx) Value(name string) string {
	if v, _ := c.param(name); v != "" {
		return v
	}
	return c.r.Header.Get(name)
}

// query returns a URL query value (stdapi's `query` tag), never parsing the body.
func (c *ctx) query(name string) (string, bool) {
	v, ok := c.r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// header returns a header value (stdapi's `header` tag).
func (c *ctx) header(name string) (string, bool) {
	v, ok := c.r.Header[http.CanonicalHeaderKey(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// optInt parses an optional integer option the way stdapi does (a parse
// failure is a plain 500).
func optInt(v string, ok bool) (*int, error) {
	if !ok {
		return nil, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return nil, err
	}
	return &i, nil
}

// optBool parses an optional boolean option: only "true" is true.
func optBool(v string, ok bool, def bool) bool {
	if !ok {
		return def
	}
	return v == "true"
}

// optDuration parses an optional Go duration option.
func optDuration(v string, ok bool, def time.Duration) (time.Duration, error) {
	if !ok {
		return def, nil
	}
	return time.ParseDuration(v)
}

// optMap parses a URL-encoded map option (e.g. `parameters`, `Environment`).
func optMap(v string, ok bool) (map[string]string, error) {
	if !ok {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(q))
	for k := range q {
		m[k] = q.Get(k)
	}
	return m, nil
}

func (c *ctx) canRead() bool  { return strings.Contains(c.who.role, "r") }
func (c *ctx) canWrite() bool { return strings.Contains(c.who.role, "w") }
func (c *ctx) canAdmin() bool { return strings.Contains(c.who.role, "a") }

// renderJSON writes v indented with a trailing newline (stdapi.RenderJSON).
func (c *ctx) renderJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "application/json")
	if _, err := c.w.Write(append(data, '\n')); err != nil {
		return err
	}
	return nil
}

// renderOK writes "ok\n" (stdapi.RenderOK).
func (c *ctx) renderOK() error {
	_, err := io.WriteString(c.w, "ok\n")
	return err
}

// Write writes to the response, or as one text frame on a websocket, like
// stdapi.Context.Write.
func (c *ctx) Write(p []byte) (int, error) {
	if c.ws != nil {
		if err := c.ws.writeText(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.w.Write(p)
}

// actor is the audit identity the rack would record for this request.
func (c *ctx) actor() string {
	if c.who.jwt {
		return c.who.user
	}
	for _, h := range []string{"Convox-Actor", "X-Convox-Actor"} {
		if v := strings.TrimSpace(c.r.Header.Get(h)); v != "" {
			return v
		}
	}
	return "rack-password"
}

// json renders the result of a state operation as JSON.
func (c *ctx) json(v any, err error) error {
	if err != nil {
		return err
	}
	return c.renderJSON(v)
}

// ok renders "ok\n" when the state operation succeeded.
func (c *ctx) ok(_ any, err error) error {
	if err != nil {
		return err
	}
	return c.renderOK()
}
