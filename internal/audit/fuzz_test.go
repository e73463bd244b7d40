package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
)

// Arbitrary bytes in every client-controlled field of an event are
// recorded in one form that the database, the JSONL export and offline
// verification share: record → export → verify passes, and the CSV export
// reads back as what was stored (but for its documented formula guard).
func FuzzRecordExportVerify(f *testing.F) {
	f.Add("/apps/\xff\xfe/env", "caf\xc3", "anonymous", "web-1\x00", `{"k":"v"}`, "req-1")
	f.Add("/apps/x\nseq 9 allow", "\x1b[2J", "=cmd|' /C calc'!A0", "-1", "", "\u202e")
	f.Add("", "", "", "", "", "")
	f.Add("/ü/✓", "Mozilla/5.0", "a@example.com", "r", `{"params":{"a":"\u0000"}}`, "x\r\ny")
	st := openStore(f)
	a := audit.New(st, quiet, nil) // not running: RecordSync writes directly
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, path, ua, actor, resource, details, reqID string) {
		n++
		ctx := context.Background()
		ev := &chain.Event{Time: time.Unix(1_700_000_000+int64(n), 0), RequestID: reqID, Rack: "dev", ActorType: "user",
			Actor: actor, SourceIP: "192.0.2.1", UserAgent: ua, Method: "GET", Path: path, Route: "AppList",
			Action: "AppList", Resource: resource, Decision: "deny", Reason: "no_route", Status: 403, Details: details}
		if err := a.RecordSync(ctx, ev); err != nil {
			t.Fatalf("RecordSync: %v", err)
		}
		var jsonl bytes.Buffer
		if err := export.Write(ctx, st, &jsonl, export.Options{Format: "jsonl"}); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "export-"+strconv.Itoa(n)+".jsonl")
		if err := os.WriteFile(file, jsonl.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(file)
		in, closer, err := verify.OpenExport(file, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		rep, err := verify.Run(ctx, in)
		if err != nil || !rep.OK() {
			t.Fatalf("the export does not verify: %v %s", err, rep.Verdict())
		}
		stored := listAll(t, st)
		last := stored[len(stored)-1]
		var out bytes.Buffer
		if err := export.Write(ctx, st, &out, export.Options{Format: "csv"}); err != nil {
			t.Fatal(err)
		}
		raw := out.String()
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("the CSV export does not parse: %v", err)
		}
		row := rows[len(rows)-1]
		cols := export.CSVColumns()
		for i, want := range map[string]string{"path": last.Path, "actor": last.Actor, "resource": last.Resource,
			"request_id": last.RequestID, "details": last.Details} {
			got := row[index(cols, i)]
			// Go's CSV reader turns CR LF inside a quoted field into LF
			// (RFC 4180 readers keep it); the file itself holds the bytes
			// exactly, which the second check shows.
			if unguarded(got, want) != strings.ReplaceAll(want, "\r\n", "\n") {
				t.Errorf("CSV %s %q, stored %q", i, got, want)
			}
			if strings.Contains(want, "\r") && !strings.Contains(raw, strings.ReplaceAll(want, `"`, `""`)) {
				t.Errorf("CSV %s: the file does not hold %q exactly", i, want)
			}
		}
	})
}

func index(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	panic("no column " + name)
}

// unguarded undoes the CSV export's formula guard (a quote before a cell
// that starts like a spreadsheet formula).
func unguarded(cell, stored string) string {
	if len(cell) == len(stored)+1 && cell[0] == '\'' {
		return cell[1:]
	}
	return cell
}
