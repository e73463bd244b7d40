package anchor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// tmpPrefix names Dir's temporary files; List skips them and keys may not
// use the name.
const tmpPrefix = ".anchor-tmp-"

// Dir keeps anchors as files (mode 0600, directories 0700) in a local
// directory. Put never replaces an existing file, but anyone with write
// access to the directory can change or delete anchors: it is NOT
// write-once storage, and Describe says so. Use it for development only.
type Dir struct{ root string }

// NewDir uses the directory at path, creating it (mode 0700) if needed.
func NewDir(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("anchor dir: path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("anchor dir %s: %w", path, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("anchor dir %s: %w", abs, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("anchor dir %s: %w", abs, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("anchor dir %s: not a directory", abs)
	}
	return &Dir{root: abs}, nil
}

// Describe names the directory and says it is not WORM.
func (d *Dir) Describe() string { return "dir " + d.root + " (NOT WORM: local directory)" }

func (d *Dir) path(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			return "", fmt.Errorf("anchor: invalid key %q (reserved name)", key)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes data under key: into a temporary file (0600, fsynced) that is
// then hard-linked to its name, which fails if the name exists. So an
// existing key is never replaced (ErrExists) and a crash never leaves a
// partial anchor under the key. The directory is fsynced afterwards.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	dst, err := d.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put anchor %s: %w", key, err)
	}
	if err := d.put(dst, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put anchor %s: %w", key, ErrExists)
		}
		return fmt.Errorf("put anchor %s in %s: %w", key, d.root, err)
	}
	return nil
}

func (d *Dir) put(dst string, data []byte) (err error) {
	dir := filepath.Dir(dst)
	if err := d.mkdirs(dir); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fs.ErrExist
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// mkdirs creates dir and its missing parents below the root with mode 0700,
// fsyncing each parent so the new entries survive a crash.
func (d *Dir) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", dir)
		}
		return nil
	}
	if dir == d.root || !strings.HasPrefix(dir, d.root+string(filepath.Separator)) {
		return os.MkdirAll(dir, 0o700)
	}
	if err := d.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Get reads the anchor at key.
func (d *Dir) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get anchor %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get anchor %s: %w", key, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("get anchor %s: %w", key, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("get anchor %s: %s is not a regular file", key, p)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("get anchor %s: %w", key, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("get anchor %s: larger than %d bytes", key, MaxSize)
	}
	return b, nil
}

// List returns the keys under prefix in ascending lexical order, skipping
// temporary files.
func (d *Dir) List(_ context.Context, prefix string) ([]string, error) {
	keys := []string{}
	// Walk only the directory the prefix names, if any.
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i > 0 && validKey(prefix[:i]) == nil {
		start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
		if _, err := os.Lstat(start); errors.Is(err, fs.ErrNotExist) {
			return keys, nil
		}
	}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if k := filepath.ToSlash(rel); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list anchors %q in %s: %w", prefix, d.root, err)
	}
	slices.Sort(keys)
	return keys, nil
}
