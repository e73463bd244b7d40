package anchor_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
)

func TestDirModesAndDescribe(t *testing.T) {
	root := filepath.Join(t.TempDir(), "anchors", "nested")
	d, err := anchor.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if desc := d.Describe(); desc != "dir "+root+" (NOT WORM: local directory)" || !strings.Contains(desc, "NOT WORM") {
		t.Fatalf("Describe = %q", desc)
	}
	if err := d.Put(context.Background(), anchor.Key(1), []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{
		{root, fs.ModeDir | 0o700},
		{filepath.Join(root, "checkpoints"), fs.ModeDir | 0o700},
		{filepath.Join(root, filepath.FromSlash(anchor.Key(1))), 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.want)
		}
	}
	// No temporary files are left behind, after a success or a refusal.
	if err := d.Put(context.Background(), anchor.Key(1), []byte("y")); !errors.Is(err, anchor.ErrExists) {
		t.Fatalf("second put = %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "checkpoints"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("checkpoints dir holds %v (%v), want only the anchor", entries, err)
	}
}

// A file created behind the store's back (or by another process) is never
// overwritten either.
func TestDirNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	d, err := anchor.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "checkpoints", "00000000000000000005.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("original"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), anchor.Key(5), []byte("replacement")); !errors.Is(err, anchor.ErrExists) {
		t.Fatalf("put over an existing file = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "original" {
		t.Fatalf("file now holds %q", b)
	}
	// A dangling symlink under the key counts as existing too.
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "checkpoints", "00000000000000000006.json")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), anchor.Key(6), []byte("x")); !errors.Is(err, anchor.ErrExists) {
		t.Fatalf("put over a symlink = %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(root, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("put followed the symlink: %v", err)
	}
}

func TestDirListSkipsTempFilesAndDirs(t *testing.T) {
	root := t.TempDir()
	d, err := anchor.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Put(ctx, anchor.Key(2), []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a crash mid-Put.
	if err := os.WriteFile(filepath.Join(root, "checkpoints", ".anchor-tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "checkpoints", "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	keys, err := d.List(ctx, "checkpoints/")
	if err != nil || len(keys) != 1 || keys[0] != anchor.Key(2) {
		t.Fatalf("list = %q, %v", keys, err)
	}
	if err := d.Put(ctx, "checkpoints/.anchor-tmp-9", []byte("x")); err == nil {
		t.Fatal("put under a reserved temp-file name succeeded")
	}
	if _, err := d.Get(ctx, "checkpoints/subdir"); err == nil {
		t.Fatal("get of a directory succeeded")
	}
}

func TestNewDirErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", f, filepath.Join(f, "sub")} {
		if _, err := anchor.NewDir(p); err == nil {
			t.Errorf("NewDir(%q) succeeded", p)
		}
	}
}
