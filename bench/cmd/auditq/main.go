// Command auditq measures the audit log of a database that auditgen filled
// (bench/audit10m.sh runs it):
//
//	auditq queries -db DSN [-reps 50]    p50/p99 of store.ListAudit for the console/API filters
//	auditq explain -db DSN               the query plans of the plain listing query
//	auditq size -db DSN                  database size and size per million events
//	auditq run -- CMD ARGS...            wall time and peak RSS of a command (rack-gateway audit ...)
//
// ListAudit is what GET /api/v1/audit and the console's audit page call
// (through admin.Service, which adds the authorization check).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "auditq:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: auditq queries|explain|size|run [flags]")
	}
	switch args[0] {
	case "queries":
		return queries(ctx, args[1:])
	case "explain":
		return explain(ctx, args[1:])
	case "size":
		return size(ctx, args[1:])
	case "run":
		return runCmd(args[1:])
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// backendOf names the backend of dsn ("sqlite" or "postgres").
func backendOf(dsn string) (backend, target string, err error) {
	return storeopen.Parse(dsn)
}
