package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// Serve is `rack-gateway serve`.
func Serve(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "serve", "serve [--config FILE]")
	file := fs.String("config", e.Getenv("RGW_CONFIG"), "JSON config `file` (RGW_CONFIG); RGW_* variables override it")
	if _, err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*file, e.Getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := newLogger(e.Stderr, cfg.LogLevel)
	st, err := storeopen.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database %s: %w", store.RedactDSN(cfg.DatabaseURL), err)
	}
	defer st.Close()
	g, err := gateway.New(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("rack-gateway listening", "addr", ln.Addr().String(), "version", gateway.Version,
		"racks", len(cfg.Racks), "default_rack", cfg.DefaultRack, "database", store.RedactDSN(cfg.DatabaseURL))
	return g.Serve(ctx, ln)
}

// Migrate is `rack-gateway migrate`.
func Migrate(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "migrate", "migrate [--grant-runtime ROLE] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	grant := fs.String("grant-runtime", "", "PostgreSQL: grant `ROLE` (the gateway's runtime role) what serve needs, with only SELECT and INSERT on the audit log; run as the tables' owner")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	st, err := db.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(e.Stdout, "migrations applied")
	if *grant != "" {
		pg, ok := st.(*postgres.Store)
		if !ok {
			return errors.New("--grant-runtime is for PostgreSQL; SQLite relies on its append-only triggers")
		}
		if err := pg.GrantRuntime(ctx, *grant); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "granted %s: read/write on users, role bindings, tokens, settings; SELECT, INSERT on audit_events; INSERT and UPDATE (anchored_at) on audit_checkpoints\n", *grant)
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
