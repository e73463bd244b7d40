package client

import (
	"bufio"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The client talks to gateways only over HTTP: of this module's packages
// it may import (transitively, on every platform it ships for) only these.
// Adding a server package here (gateway, store, audit, web, authz, ...)
// would compile the server into the client's dependencies; share a type
// through internal/apitypes instead.
var clientMayImport = []string{
	"internal/cli/client",
	"internal/cli/cmdutil",
	"internal/apitypes",
	"internal/timefmt", // a leaf: the one date format
}

// Third-party modules that only the server needs.
var clientMustNotImport = []string{
	"github.com/jackc/pgx",
	"modernc.org/sqlite",
	"github.com/aws/",
	"github.com/prometheus/",
	"github.com/coreos/go-oidc",
	"github.com/go-jose/",
	"github.com/gorilla/websocket",
	"github.com/chromedp/",
}

func TestClientImportsNoServerPackage(t *testing.T) {
	root, module := moduleRoot(t)
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		ctx := build.Default
		ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, "amd64", false
		// from[p] is the package that first imported p, for the message.
		from := map[string]string{module + "/internal/cli/client": ""}
		queue := []string{module + "/internal/cli/client"}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			rel := strings.TrimPrefix(p, module+"/")
			if !slices.Contains(clientMayImport, rel) {
				t.Errorf("%s: the client imports %s (%s): the client must not depend on server packages "+
					"(if it is a leaf the client may use, add it to clientMayImport)", goos, p, chain(from, p))
				continue
			}
			pkg, err := ctx.ImportDir(filepath.Join(root, filepath.FromSlash(rel)), 0)
			if err != nil {
				t.Fatalf("%s: %s: %v", goos, p, err)
			}
			imports := slices.Clone(pkg.Imports)
			sort.Strings(imports)
			for _, imp := range imports {
				for _, bad := range clientMustNotImport {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s: %s imports %s, a server-only dependency", goos, p, imp)
					}
				}
				if (imp == module || strings.HasPrefix(imp, module+"/")) && !hasKey(from, imp) {
					from[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// chain is "a imported by b imported by ...".
func chain(from map[string]string, p string) string {
	var parts []string
	for q := from[p]; q != ""; q = from[q] {
		parts = append(parts, "imported by "+q)
	}
	return strings.Join(parts, ", ")
}

// moduleRoot finds go.mod above the test's directory and returns its
// directory and module path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
