package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// lockWait bounds how long a command waits for another one that is
// updating the credentials file.
var lockWait = 10 * time.Second

// errLocked means another process holds the lock right now.
var errLocked = errors.New("locked")

// lockClientConfig takes an exclusive advisory lock beside the credentials
// file (config.json.lock), so that concurrent logins, logouts and switches
// each read the others' changes instead of overwriting them. The lock ends
// with the returned function, or with the process.
func lockClientConfig(path string) (unlock func(), err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock credentials: %w", err)
	}
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock credentials: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := tryLockFile(f)
		if err == nil {
			return func() { _ = unlockFile(f); _ = f.Close() }, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("lock credentials (%s): %w", lockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another rack-gateway command has been updating %s for %s (lock %s); try again",
				path, lockWait, lockPath)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// updateClientConfig reads the saved logins, lets change modify them and
// saves the result, all under the lock. Nothing is saved if change fails.
func updateClientConfig(e *cmdutil.Env, change func(cfg *clientConfig) error) (*clientConfig, error) {
	path, err := clientConfigPath(e)
	if err != nil {
		return nil, err
	}
	unlock, err := lockClientConfig(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cfg, path, err := loadClientConfig(e)
	if err != nil {
		return nil, err
	}
	if err := change(cfg); err != nil {
		return nil, err
	}
	if err := saveClientConfig(path, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
