package testutil

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

var (
	regenerate = flag.Bool("regenerate-frozen-vectors", false,
		"write the frozen audit-format vectors that do not exist yet (see kat_gen_test.go; never to fix a failing test)")
	regenerateOverwrite = flag.Bool("regenerate-frozen-vectors-overwrite", false,
		"with -regenerate-frozen-vectors, overwrite existing vectors: BREAKS EVERY DEPLOYED AUDIT LOG")
)

// RegenerateFrozen reports whether the test binary was asked to write the
// frozen audit-format vectors (-regenerate-frozen-vectors); their
// generators skip otherwise.
func RegenerateFrozen() bool { return *regenerate }

// WriteFrozen writes a frozen vector to path, refusing to overwrite an
// existing one unless -regenerate-frozen-vectors-overwrite was given
// (which breaks every deployed audit log: the vectors pin its formats).
func WriteFrozen(t testing.TB, path string, data []byte) {
	t.Helper()
	path = filepath.FromSlash(path)
	if _, err := os.Stat(path); err == nil && !*regenerateOverwrite {
		t.Fatalf("%s exists; the vectors are frozen (see the comment in kat_test.go)", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
