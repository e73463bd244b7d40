package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// size prints the database's size and the size per million events.
func size(ctx context.Context, args []string) error {
	db, backend, dsn, err := openFlags("size", args, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&n); err != nil {
		return err
	}
	var total, events int64
	detail := ""
	if backend == storeopen.SQLite {
		_, target, _ := backendOf(dsn)
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(target + suffix); err == nil {
				total += fi.Size()
			}
		}
		var free, page int64
		if err := db.QueryRowContext(ctx, "SELECT freelist_count FROM pragma_freelist_count").Scan(&free); err != nil {
			return err
		}
		if err := db.QueryRowContext(ctx, "SELECT page_size FROM pragma_page_size").Scan(&page); err != nil {
			return err
		}
		detail = fmt.Sprintf("file+wal; free pages %.1f MB", float64(free*page)/1e6)
		events = total - free*page
	} else {
		// The audit log is its events and its block index (migration
		// 0013); a database migrated before 0013 has no block tables.
		var idx, blocks int64
		if err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database()), pg_total_relation_size('audit_events'),
			pg_indexes_size('audit_events'),
			COALESCE(pg_total_relation_size(to_regclass('audit_blocks')), 0) + COALESCE(pg_total_relation_size(to_regclass('audit_time_blocks')), 0)`).
			Scan(&total, &events, &idx, &blocks); err != nil {
			return err
		}
		detail = fmt.Sprintf("audit_events with indexes %.1f MB, of which indexes %.1f MB; block index %.1f MB",
			float64(events)/1e6, float64(idx)/1e6, float64(blocks)/1e6)
		events += blocks
	}
	per := 0.0
	if n > 0 {
		per = float64(events) / 1e6 / (float64(n) / 1e6)
	}
	fmt.Printf("events %d; database %.1f MB (%s); %.1f MB per million events (live data)\n", n, float64(total)/1e6, detail, per)
	return nil
}

// runCmd runs a command and prints its wall time and peak RSS (the
// kernel's ru_maxrss for the child, the high-water mark /proc reports as
// VmHWM).
func runCmd(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fmt.Errorf("run: no command")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	if cmd.ProcessState == nil {
		return err
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := int64(0)
	if ru != nil {
		rss = ru.Maxrss // KiB on Linux
	}
	fmt.Printf("  -> wall %.2f s, peak RSS %.1f MB, exit %d\n", el.Seconds(), float64(rss)/1024, cmd.ProcessState.ExitCode())
	return err
}
