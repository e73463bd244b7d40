package main

import (
	"strings"
	"testing"
)

const header = `{"type":"header","format":"rgw-audit-jsonl"}` + "\n"

func ev(id, method, phase string) string {
	details := `""`
	if phase != "" {
		details = `"{\"phase\":\"` + phase + `\"}"`
	}
	return `{"type":"event","request_id":"` + id + `","method":"` + method + `","details":` + details + "}\n"
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, acks, export string
		ok                 bool
		missing, wrong     int
		outcomes           int
	}{
		{"every ack has attempt and outcome",
			"POST /a r1\nPOST /b r2\n",
			header + ev("r1", "POST", "attempt") + ev("r2", "POST", "attempt") + ev("r1", "POST", "outcome") + ev("r2", "POST", "outcome") +
				`{"type":"checkpoint","seq":4}` + "\n",
			true, 0, 0, 2},
		{"an outcome lost with a crash is counted, not a failure",
			"POST /a r1\n", header + ev("r1", "POST", "attempt"), true, 0, 0, 0},
		{"an ack without its attempt fails",
			"POST /a r1\nPOST /b r2\n", header + ev("r1", "POST", "attempt") + ev("r2", "POST", "outcome"), false, 1, 0, 1},
		{"an ack absent from the log fails",
			"POST /a r1\n", header + ev("other", "POST", "attempt"), false, 1, 0, 0},
		{"an attempt for another method fails",
			"POST /a r1\n", header + ev("r1", "DELETE", "attempt"), false, 0, 1, 0},
		{"a routine event under the id is not an attempt",
			"POST /a r1\n", header + ev("r1", "POST", ""), false, 1, 0, 0},
		{"no acks at all cannot pass", "", header, false, 0, 0, 0},
		{"a duplicate request id fails",
			"POST /a r1\nPOST /a r1\n", header + ev("r1", "POST", "attempt"), false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := check(strings.NewReader(tc.acks), strings.NewReader(tc.export))
			if err != nil {
				t.Fatal(err)
			}
			if r.ok() != tc.ok || len(r.missingAttempt) != tc.missing || len(r.wrongMethod) != tc.wrong || r.withOutcome != tc.outcomes {
				t.Fatalf("ok %v missing %d wrong %d outcomes %d; want %v %d %d %d\n%s", r.ok(), len(r.missingAttempt),
					len(r.wrongMethod), r.withOutcome, tc.ok, tc.missing, tc.wrong, tc.outcomes, r)
			}
			if !strings.Contains(r.String(), map[bool]string{true: "PASS", false: "FAIL"}[tc.ok]) {
				t.Fatalf("report does not say the verdict:\n%s", r)
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	for _, tc := range []struct{ name, acks, export string }{
		{"short ack line", "POST r1\n", header},
		{"export not JSON", "POST /a r1\n", "not json\n"},
		{"details not JSON", "POST /a r1\n", `{"type":"event","request_id":"r1","details":"{"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := check(strings.NewReader(tc.acks), strings.NewReader(tc.export)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
