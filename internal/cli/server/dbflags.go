package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// dbFlags are shared by every verb that works on the database directly:
// the same configuration as serve (--config, RGW_DATABASE_URL) or a dev data
// directory (--data).
type dbFlags struct {
	config, data *string
}

func addDBFlags(fs *cmdutil.Flags, e *cmdutil.Env) dbFlags {
	return dbFlags{
		config: fs.String("config", e.Getenv("RGW_CONFIG"), "JSON config `file`, as for serve"),
		data:   fs.String("data", "", "use the database of a 'rack-gateway dev' data `dir`"),
	}
}

// load returns the configuration: serve's (--config, RGW_*), or that of a
// dev data directory (--data): its database, keys and anchor directory.
func (d dbFlags) load(e *cmdutil.Env) (*config.Config, error) {
	if *d.data != "" {
		return &config.Config{DatabaseURL: devDSN(*d.data), Audit: config.DevAudit(*d.data)}, nil
	}
	return config.Load(*d.config, e.Getenv)
}

func (d dbFlags) open(ctx context.Context, e *cmdutil.Env) (store.Store, error) {
	cfg, err := d.load(e)
	if err != nil {
		return nil, err
	}
	return openDSN(ctx, cfg.DatabaseURL)
}

func openDSN(ctx context.Context, dsn string) (store.Store, error) {
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", store.RedactDSN(dsn), err)
	}
	return st, nil
}

func devDSN(dir string) string { return "sqlite:" + filepath.Join(dir, "gateway.db") }
