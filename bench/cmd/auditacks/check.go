package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ack is one acknowledged mutating call.
type ack struct{ method, path, id string }

// report is what the check found.
type report struct {
	acked, duplicates, events int
	withAttempt, withOutcome  int
	missingAttempt            []ack // acknowledged, no attempt event: the guarantee broken
	wrongMethod               []ack // an attempt under that id, but for another method
	missingOutcome            int
}

func (r *report) ok() bool {
	return r.acked > 0 && len(r.missingAttempt) == 0 && len(r.wrongMethod) == 0 && r.duplicates == 0
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit events read: %d\n", r.events)
	fmt.Fprintf(&b, "acknowledged mutating calls: %d (duplicate request ids: %d)\n", r.acked, r.duplicates)
	fmt.Fprintf(&b, "  with their write-ahead attempt event: %d\n", r.withAttempt)
	fmt.Fprintf(&b, "  MISSING the attempt event: %d\n", len(r.missingAttempt))
	for i, a := range r.missingAttempt {
		if i == 10 {
			fmt.Fprintf(&b, "    … and %d more\n", len(r.missingAttempt)-10)
			break
		}
		fmt.Fprintf(&b, "    %s %s %s\n", a.method, a.path, a.id)
	}
	fmt.Fprintf(&b, "  attempt recorded for another method: %d\n", len(r.wrongMethod))
	fmt.Fprintf(&b, "  with their outcome event: %d (without: %d)\n", r.withOutcome, r.missingOutcome)
	v := "PASS"
	if !r.ok() {
		v = "FAIL"
	}
	fmt.Fprintf(&b, "%s  every acknowledged mutating call is in the audit log\n", v)
	return b.String()
}

// check reads the acks and the export and compares them.
func check(acks, export io.Reader) (*report, error) {
	r := &report{}
	var list []ack
	seen := map[string]bool{}
	sc := bufio.NewScanner(acks)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("acks line %d: want METHOD PATH REQUEST_ID, got %q", n, line)
		}
		a := ack{f[0], f[1], f[2]}
		if seen[a.id] {
			r.duplicates++
			continue
		}
		seen[a.id] = true
		list = append(list, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	r.acked = len(list)

	type phases struct {
		attemptMethods []string
		outcome        bool
	}
	byID := map[string]*phases{}
	dec := json.NewDecoder(export)
	for {
		var ev struct {
			Type      string `json:"type"`
			RequestID string `json:"request_id"`
			Method    string `json:"method"`
			Details   string `json:"details"` // the stored JSON text
		}
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if ev.Type != "event" {
			continue
		}
		r.events++
		if !seen[ev.RequestID] {
			continue
		}
		var d struct{ Phase string }
		if ev.Details != "" {
			if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
				return nil, fmt.Errorf("export: event of %s: details: %w", ev.RequestID, err)
			}
		}
		p := byID[ev.RequestID]
		if p == nil {
			p = &phases{}
			byID[ev.RequestID] = p
		}
		switch d.Phase {
		case "attempt":
			p.attemptMethods = append(p.attemptMethods, ev.Method)
		case "outcome":
			p.outcome = true
		}
	}
	for _, a := range list {
		p := byID[a.id]
		switch {
		case p == nil || len(p.attemptMethods) == 0:
			r.missingAttempt = append(r.missingAttempt, a)
		case !slices.Contains(p.attemptMethods, a.method):
			r.wrongMethod = append(r.wrongMethod, a)
		default:
			r.withAttempt++
		}
		if p != nil && p.outcome {
			r.withOutcome++
		} else {
			r.missingOutcome++
		}
	}
	return r, nil
}
