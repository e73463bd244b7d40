package siem

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// ev returns a plausible event with the given seq.
func ev(seq int64) chain.Event {
	h := sha256.Sum256(fmt.Appendf(nil, "event-%d", seq))
	return chain.Event{
		ID:         seq + 1000,
		Seq:        seq,
		Hash:       h[:],
		Time:       time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC),
		RequestID:  fmt.Sprintf("req-%d", seq),
		Rack:       "prod",
		ActorType:  "user",
		Actor:      "alice@example.com",
		ActorID:    7,
		Role:       "deployer",
		SourceIP:   "10.0.0.1",
		UserAgent:  "convox/3.0",
		Method:     "POST",
		Path:       "/apps/web/releases",
		Route:      "release.create",
		Action:     "release.create",
		App:        "web",
		Permission: "release:create",
		Decision:   "allow",
		Reason:     "role",
		Status:     200,
		DurationUS: 1234,
		Details:    `{"release":"R123"}`,
	}
}

func events(from int64, n int) []chain.Event {
	out := make([]chain.Event, n)
	for i := range out {
		out[i] = ev(from + int64(i))
	}
	return out
}

func TestEncodeGolden(t *testing.T) {
	e := chain.Event{
		ID:         42,
		Seq:        9,
		Hash:       []byte{0xde, 0xad, 0xbe, 0xef},
		Time:       time.Date(2025, 3, 4, 7, 6, 7, 500, time.FixedZone("X", 2*3600)),
		RequestID:  "r1",
		Rack:       "prod",
		ActorType:  "token",
		Actor:      "token:ci",
		ActorID:    3,
		TokenID:    11,
		Role:       "admin",
		SourceIP:   "192.0.2.1",
		UserAgent:  "ua",
		Method:     "DELETE",
		Path:       "/apps/a&b<c>",
		Route:      "app.delete",
		Action:     "app.delete",
		App:        "a",
		Resource:   "res",
		Permission: "app:delete",
		Decision:   "deny",
		Reason:     "no_permission",
		Status:     403,
		DurationUS: 99,
		Details:    "{\n  \"k\": [1, 2],\n  \"s\": \"v\"\n}",
	}
	got, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"rack-gateway","seq":9,"hash":"deadbeef","id":42,"time":"2025-03-04T05:06:07.0000005Z",` +
		`"request_id":"r1","rack":"prod","actor_type":"token","actor":"token:ci","actor_id":3,"token_id":11,` +
		`"role":"admin","source_ip":"192.0.2.1","user_agent":"ua","method":"DELETE","path":"/apps/a&b<c>",` +
		`"route":"app.delete","action":"app.delete","app":"a","resource":"res","permission":"app:delete",` +
		`"decision":"deny","reason":"no_permission","status":403,"duration_us":99,"details":{"k":[1,2],"s":"v"}}`
	if string(got) != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeDetails(t *testing.T) {
	tests := []struct {
		name       string
		details    string
		wantObj    map[string]any // expected "details" object, nil if absent
		wantRaw    string         // expected "details_raw", "" if absent
		wantAbsent bool           // neither key present
	}{
		{name: "empty", details: "", wantAbsent: true},
		{name: "object", details: `{"a":"b","n":1}`, wantObj: map[string]any{"a": "b", "n": 1.0}},
		{name: "object with whitespace", details: " {\"a\":\n\"b\"} ", wantObj: map[string]any{"a": "b"}},
		{name: "invalid json", details: `{"a":`, wantRaw: `{"a":`},
		{name: "not an object", details: `[1,2]`, wantRaw: `[1,2]`},
		{name: "json string", details: `"x"`, wantRaw: `"x"`},
		{name: "plain text with newline", details: "line1\nline2", wantRaw: "line1\nline2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ev(1)
			e.Details = tt.details
			line, err := Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("line contains a newline: %q", line)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("invalid JSON %s: %v", line, err)
			}
			d, hasD := m["details"]
			raw, hasRaw := m["details_raw"]
			switch {
			case tt.wantAbsent:
				if hasD || hasRaw {
					t.Fatalf("want no details keys, got %s", line)
				}
			case tt.wantObj != nil:
				obj, ok := d.(map[string]any)
				if !ok || hasRaw {
					t.Fatalf("details not embedded as object: %s", line)
				}
				if fmt.Sprint(obj) != fmt.Sprint(tt.wantObj) {
					t.Fatalf("details = %v, want %v", obj, tt.wantObj)
				}
			default:
				if hasD || raw != tt.wantRaw {
					t.Fatalf("details_raw = %q (details present %v), want %q", raw, hasD, tt.wantRaw)
				}
			}
		})
	}
}

func TestEncodeFieldNames(t *testing.T) {
	line, err := Encode(ev(5))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"action", "actor", "actor_id", "actor_type", "app", "decision", "details", "duration_us",
		"hash", "id", "method", "path", "permission", "rack", "reason", "request_id", "resource", "role",
		"route", "seq", "source", "source_ip", "status", "time", "token_id", "user_agent"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys:\n got %v\nwant %v", keys, want)
	}
	var hash string
	_ = json.Unmarshal(m["hash"], &hash)
	if len(hash) != 64 {
		t.Fatalf("hash %q is not 32 bytes of hex", hash)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	const n = 100
	all := events(1, n)
	for i := 0; i < n; i += 7 {
		w.Send(all[i:min(i+7, n)])
	}
	w.Send(nil)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	w.Send(events(n+1, 3)) // after Close: ignored
	sc := bufio.NewScanner(&buf)
	var seq int64
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d invalid: %v", seq+1, err)
		}
		seq++
		if r.Seq != seq || r.Source != Source {
			t.Fatalf("line %d: seq %d source %q", seq, r.Seq, r.Source)
		}
	}
	if seq != n {
		t.Fatalf("got %d lines, want %d", seq, n)
	}
}

// TestWriterConcurrent checks lines from concurrent Sends never interleave.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				w.Send(events(int64(g*1000+i*10), 10))
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8*20*10 {
		t.Fatalf("got %d lines", len(lines))
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d invalid: %q", i, l)
		}
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriterError(t *testing.T) {
	w := NewWriter(errWriter{})
	w.Send(events(1, 2))
	if w.Err() == nil {
		t.Fatal("want Err")
	}
	if err := w.Close(t.Context()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
}

func BenchmarkEncode(b *testing.B) {
	e := ev(12345)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}
