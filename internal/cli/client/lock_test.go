package client

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// Concurrent read-modify-writes of the credentials file (logins, logouts
// and switches in several terminals) each see the others' changes: none is
// lost, and the file stays valid and private.
func TestClientConfigConcurrentUpdates(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	e := &cmdutil.Env{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(k string) string { return env[k] }}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, err := updateClientConfig(e, func(cfg *clientConfig) error {
				name := fmt.Sprintf("rack-%02d", i)
				cfg.Racks[name] = &rackLogin{URL: "https://" + name + ".example.com", Token: "rgws_" + name}
				return nil
			})
			errs <- err
		})
	}
	// Meanwhile `switch` runs through the real command, over and over.
	for range n {
		wg.Go(func() {
			_, err := updateClientConfig(e, func(cfg *clientConfig) error {
				cfg.Racks["base"] = &rackLogin{URL: "https://base.example.com", Token: "rgws_base"}
				return nil
			})
			if err == nil {
				var out, errb syncBuffer
				se := &cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: e.Getenv}
				if err = Switch(t.Context(), se, []string{"base"}); err != nil {
					err = fmt.Errorf("switch: %v (%s)", err, errb.String())
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, path, err := loadClientConfig(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Racks) != n+1 {
		t.Fatalf("%d racks saved, want %d: concurrent updates were lost (%s)", len(cfg.Racks), n+1, cfg.known())
	}
	if cfg.Current != "base" {
		t.Errorf("current rack %q, want base", cfg.Current)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".config-*.tmp"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// A lock held elsewhere for too long gives a clear error, and nothing is
// written.
func TestClientConfigLockTimeout(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	e := &cmdutil.Env{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(k string) string { return env[k] }}
	path, err := clientConfigPath(e)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockClientConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	old := lockWait
	lockWait = 100 * time.Millisecond
	t.Cleanup(func() { lockWait = old })
	called := false
	_, err = updateClientConfig(e, func(*clientConfig) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "try again") || called {
		t.Fatalf("update under a held lock: err %v, change called %v", err, called)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("config written while locked: %v", err)
	}
	unlock()
	if _, err := updateClientConfig(e, func(*clientConfig) error { called = true; return nil }); err != nil || !called {
		t.Fatalf("after unlock: %v, change called %v", err, called)
	}
}
