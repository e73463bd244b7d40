// Package openapitest holds real answers of the admin API to its OpenAPI
// document (package openapi), for tests: each answer is validated with
// kin-openapi against the operation it came from (status, headers, body
// schema, which forbids unknown fields), and checked for the API's
// conventions that a schema cannot say: no Go-style (CamelCase) key
// anywhere, every time in RFC 3339 UTC as apitypes.Time writes it, and
// every refusal in the one error shape with its request id.
//
// It is imported by tests only, so kin-openapi is not in the binary.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/rack-gateway/rack-gateway/internal/web/openapi"
)

func init() {
	// The JSONL export: JSON objects, one a line; the document calls the
	// body a string (its format is rack-gateway-audit-export/v1, checked by
	// internal/audit/verify), so each line is checked here and the text
	// handed on.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson",
		func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			if err != nil {
				return nil, err
			}
			for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				var v map[string]any
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					return nil, fmt.Errorf("line %d is not a JSON object: %w", i+1, err)
				}
			}
			return string(b), nil
		})
}

// Doc loads and validates the embedded document.
func Doc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.YAML())
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// Operations lists the documented operations as "METHOD /path/{param}".
func Operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// Checker validates answers and remembers which operations it saw.
type Checker struct {
	doc   *openapi3.T
	mu    sync.Mutex
	seen  map[string]map[int]bool // operation → statuses
	paths []template
}

type template struct {
	path   string
	re     *regexp.Regexp
	params []string
}

var (
	paramRE     = regexp.MustCompile(`\{([^}]+)\}`)
	quotedParam = regexp.MustCompile(`\\\{[^}]+\\\}`)
)

// New returns a Checker of the embedded document.
func New(t testing.TB) *Checker {
	c := &Checker{doc: Doc(t), seen: map[string]map[int]bool{}}
	for path := range c.doc.Paths.Map() {
		tp := template{path: path}
		// QuoteMeta escapes the braces of {param}; match them escaped.
		tp.re = regexp.MustCompile("^" + quotedParam.ReplaceAllString(regexp.QuoteMeta(path), "([^/]+)") + "$")
		for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
			tp.params = append(tp.params, m[1])
		}
		c.paths = append(c.paths, tp)
	}
	return c
}

// route finds the documented path of a request path.
func (c *Checker) route(path string) (template, map[string]string, bool) {
	for _, tp := range c.paths {
		if m := tp.re.FindStringSubmatch(path); m != nil {
			params := map[string]string{}
			for i, name := range tp.params {
				params[name] = m[i+1]
			}
			return tp, params, true
		}
	}
	return template{}, nil, false
}

// Answer is one request and its answer, as the client saw them.
type Answer struct {
	Method, Path string // Path may carry a query
	Header       http.Header
	ReqBody      []byte // what was sent (nil: none)
	Status       int
	RespHeader   http.Header
	Body         []byte
}

// Check validates a. The request itself is also validated against the
// document when it succeeded (a refused request may be malformed on
// purpose).
func (c *Checker) Check(t testing.TB, a Answer) {
	t.Helper()
	what := fmt.Sprintf("%s %s → %d", a.Method, a.Path, a.Status)
	req, err := http.NewRequest(a.Method, "http://gateway.test"+a.Path, bytes.NewReader(a.ReqBody))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for k, v := range a.Header {
		req.Header[k] = v
	}
	tp, params, ok := c.route(req.URL.Path)
	var op *openapi3.Operation
	if ok {
		op = c.doc.Paths.Value(tp.path).GetOperation(a.Method)
	}
	if op == nil {
		// Not an operation: only the JSON 404/405 may answer it.
		if a.Status != http.StatusNotFound && a.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s: not a documented operation", what)
		}
		c.CheckError(t, what, a.Status, a.RespHeader, a.Body)
		return
	}
	op1 := a.Method + " " + tp.path
	c.mu.Lock()
	if c.seen[op1] == nil {
		c.seen[op1] = map[int]bool{}
	}
	c.seen[op1][a.Status] = true
	c.mu.Unlock()

	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
		Route:   &routers.Route{Spec: c.doc, Path: tp.path, PathItem: c.doc.Paths.Value(tp.path), Method: a.Method, Operation: op},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if a.Status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: the request does not match the document: %v", what, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.Status, Header: a.RespHeader,
		Body: io.NopCloser(bytes.NewReader(a.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: the answer does not match the document: %v\n%s", what, err, a.Body)
	}
	if a.Status >= 400 {
		c.CheckError(t, what, a.Status, a.RespHeader, a.Body)
		return
	}
	if isJSON(a.RespHeader) && !strings.HasPrefix(tp.path, "/api/v1/openapi.") {
		var v any
		if err := json.Unmarshal(a.Body, &v); err != nil {
			t.Errorf("%s: body is not JSON: %v", what, err)
			return
		}
		CheckConventions(t, what, v)
	}
}

// CheckError checks a refusal: the one error shape (validated against the
// document's Error schema), JSON, not cached, and its request id equal to
// the X-Request-Id header.
func (c *Checker) CheckError(t testing.TB, what string, status int, h http.Header, body []byte) {
	t.Helper()
	if status < 400 {
		t.Errorf("%s: not a refusal", what)
		return
	}
	if !isJSON(h) || h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: refusal with Content-Type %q, Cache-Control %q", what, h.Get("Content-Type"), h.Get("Cache-Control"))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: refusal is not JSON: %v: %s", what, err, body)
		return
	}
	if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
		t.Errorf("%s: refusal is not the error shape: %v: %s", what, err, body)
	}
	m, _ := v.(map[string]any)
	if rid, _ := m["request_id"].(string); rid == "" || rid != h.Get("X-Request-Id") {
		t.Errorf("%s: request_id %q, X-Request-Id %q", what, rid, h.Get("X-Request-Id"))
	}
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		t.Errorf("%s: 405 without Allow", what)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("%s: 401 with WWW-Authenticate %q", what, h.Get("WWW-Authenticate"))
	}
	CheckConventions(t, what, v)
}

func isJSON(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/json"
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// CheckConventions walks a decoded JSON value: every object key is
// snake_case (no Go field names such as ActorType), and every time (keys
// "time" and "*_at") is RFC 3339 in UTC in apitypes.Time's form.
func CheckConventions(t testing.TB, what string, v any) {
	t.Helper()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				p := path + "." + k
				// rack_roles is a map keyed by rack name, not a field.
				if !snake.MatchString(k) && !strings.HasSuffix(path, ".rack_roles") {
					t.Errorf("%s: key %s is not snake_case", what, p)
				}
				if s, ok := val.(string); ok && s != "" && (k == "time" || strings.HasSuffix(k, "_at")) {
					tm, err := time.Parse(time.RFC3339Nano, s)
					if err != nil || tm.UTC().Format(time.RFC3339Nano) != s {
						t.Errorf("%s: %s = %q is not RFC 3339 UTC (encoding/json's form)", what, p, s)
					}
				}
				walk(p, val)
			}
		case []any:
			for i, val := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), val)
			}
		}
	}
	walk("", v)
}

// Unseen lists the documented operations no checked answer came from,
// leaving out those in except.
func (c *Checker) Unseen(except ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, op := range Operations(c.doc) {
		if len(c.seen[op]) > 0 {
			continue
		}
		skip := false
		for _, e := range except {
			skip = skip || e == op
		}
		if !skip {
			out = append(out, op)
		}
	}
	return out
}

// Seen reports the statuses seen for an operation.
func (c *Checker) Seen(op string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for s := range c.seen[op] {
		out = append(out, s)
	}
	sort.Ints(out)
	return out
}

// Do sends a request with client and checks its answer.
func (c *Checker) Do(t testing.TB, client *http.Client, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	var sent []byte
	if req.Body != nil {
		sent, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	c.Check(t, Answer{Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header, ReqBody: sent,
		Status: resp.StatusCode, RespHeader: resp.Header, Body: body})
	return resp.StatusCode, resp.Header, body
}
