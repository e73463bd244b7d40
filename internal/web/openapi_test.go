package web_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/web/openapi"
	"github.com/rack-gateway/rack-gateway/internal/web/openapi/openapitest"
)

var routeLiteral = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/api/v1/\S*)$`)

// sourceRoutes finds every "METHOD /api/v1/..." string literal in the
// non-test Go files under dirs: the routes as the code registers them,
// whichever helper it goes through.
func sourceRoutes(t *testing.T, dirs ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && routeLiteral.MatchString(s) {
						seen[s] = true
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for r := range seen {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Every /api/v1 route the code registers is documented, and every
// documented operation is registered: in the source (internal/web and
// internal/gateway) and in the running server.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	documented := openapitest.Operations(openapitest.Doc(t))
	if src := sourceRoutes(t, ".", "../gateway"); !slices.Equal(src, documented) {
		t.Errorf("routes in the source and in openapi.yaml differ:\nsource:     %v\ndocumented: %v", src, documented)
	}
	e := newEnv(t)
	running := e.gw.Web.APIRoutes()
	// This gateway has no identity provider, so the CLI login claim is not
	// mounted; the source check above covers it.
	running = append(running, "POST /api/v1/cli/login/claim")
	slices.Sort(running)
	if !slices.Equal(running, documented) {
		t.Errorf("routes of the running server and openapi.yaml differ:\nrunning:    %v\ndocumented: %v", running, documented)
	}
}

// The document is served without credentials, as YAML and as the same
// content in JSON, and is a valid OpenAPI 3 document.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body, h := e.get("/api/v1/openapi.yaml")
	if status != 200 || h.Get("Content-Type") != "application/yaml" || !bytes.Equal([]byte(body), openapi.YAML()) {
		t.Fatalf("openapi.yaml: %d %q", status, h.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "openapi.yaml", h)
	status, body, h = e.get("/api/v1/openapi.json")
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %q", status, h.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v %q", err, doc.OpenAPI)
	}
	var ops []string
	for p, item := range doc.Paths {
		for m := range item {
			if m != "parameters" {
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(ops)
	if want := openapitest.Operations(openapitest.Doc(t)); !slices.Equal(ops, want) {
		t.Errorf("openapi.json operations %v, want those of openapi.yaml %v", ops, want)
	}
}

// Unknown /api/ paths and wrong methods are answered in the one error
// shape, never net/http's text/plain (nor, with a console, its HTML page);
// so are refusals before authentication.
func TestAPIRefusalsOneShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := openapitest.New(t)
	viewer := e.tokens[authz.RoleViewer]
	for _, tc := range []struct {
		method, path, token string
		status              int
		allow, reason       string
	}{
		{"GET", "/api/v1/nope", viewer, 404, "", "not_found"},
		{"GET", "/api/v1/nope", "", 404, "", "not_found"},
		{"GET", "/api/v2/users", viewer, 404, "", "not_found"},
		{"GET", "/api/v1/me/", viewer, 404, "", "not_found"},
		{"GET", "/api/v1/cli/login/other", "", 404, "", "not_found"},
		{"PUT", "/api/v1/me", viewer, 405, "GET, HEAD", "method_not_allowed"},
		{"DELETE", "/api/v1/users", viewer, 405, "GET, HEAD, POST", "method_not_allowed"},
		{"GET", "/api/v1/tokens/5", viewer, 405, "DELETE", "method_not_allowed"},
		{"POST", "/api/v1/openapi.json", "", 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/api/v1/me", "", 401, "", "unauthenticated"},
		{"GET", "/api/v1/me", "rgw_not-a-token", 401, "", "invalid_credentials"},
		{"GET", "/api/v1/users", viewer, 403, "", "missing_permission"},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		status, h, body := c.Do(t, http.DefaultClient, req)
		var got struct{ Reason string }
		_ = json.Unmarshal(body, &got)
		if status != tc.status || h.Get("Allow") != tc.allow || got.Reason != tc.reason {
			t.Errorf("%s %s: %d Allow %q %s, want %d Allow %q reason %s", tc.method, tc.path, status, h.Get("Allow"), body,
				tc.status, tc.allow, tc.reason)
		}
		checkSecurityHeaders(t, tc.method+" "+tc.path, h)
	}
}
