// Package archtest checks that the package map in the README (layers of
// packages, each importing only lower layers) is the real import graph.
package archtest

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rack-gateway/rack-gateway"

var rowRE = regexp.MustCompile("^\\| (\\d+) \\| `([^`]+)` \\|")

// readMap returns the README's package map: package directory → layer.
func readMap(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "<!-- package-map:begin -->", "<!-- package-map:end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README lacks the %s … %s markers", begin, end)
	}
	layers := map[string]int{}
	for _, line := range strings.Split(s[i+len(begin):j], "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if _, dup := layers[m[2]]; dup {
			t.Errorf("README package map lists %s twice", m[2])
		}
		layers[m[2]] = n
	}
	return layers
}

// packages returns every package directory of the module (relative to
// the root) with its imports of the module's own packages, test files
// left out.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH = "linux", "amd64"
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		if !hasGo(entries) {
			return nil
		}
		// Every platform's files count: a windows-only import is still an
		// import of the package. A directory of test files only (no
		// build.Package for any platform) is a package without imports.
		imports := map[string]bool{}
		for _, goos := range []string{"linux", "darwin", "windows"} {
			c := ctx
			c.GOOS = goos
			p, err := c.ImportDir(path, 0)
			if _, noGo := err.(*build.NoGoError); noGo {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module+"/") {
					imports[strings.TrimPrefix(imp, module+"/")] = true
				}
			}
		}
		list := make([]string, 0, len(imports))
		for imp := range imports {
			list = append(list, imp)
		}
		sort.Strings(list)
		out[rel] = list
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasGo(entries []fs.DirEntry) bool {
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			return true
		}
	}
	return false
}

// Every package is in the map, every entry is a package, and every import
// runs from a higher layer to a lower one.
func TestPackageMapMatchesImports(t *testing.T) {
	layers := readMap(t)
	pkgs := packages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages; is the walk broken?", len(pkgs))
	}
	for p := range pkgs {
		if _, ok := layers[p]; !ok {
			t.Errorf("package %s is not in the README's package map", p)
		}
	}
	for p := range layers {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("the README's package map lists %s, which is not a package", p)
		}
	}
	for p, imports := range pkgs {
		for _, imp := range imports {
			lp, li := layers[p], layers[imp]
			if li >= lp {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must run to a lower layer", p, lp, imp, li)
			}
		}
	}
}
