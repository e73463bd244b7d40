package chain_test

// The generator of the frozen vectors checked by kat_test.go. It never runs
// by default: it is skipped unless the test binary gets
// -regenerate-frozen-vectors, and it refuses to overwrite an existing file
// unless -regenerate-frozen-vectors-overwrite is given too.
//
// Overwriting the vectors means declaring a new event encoding, and every
// log already written by a deployed gateway stops verifying. Do not do that
// to make a failing test pass. It exists to write the vectors of a NEW
// SchemaVersion (into new files) and to document how the existing ones were
// made.
//
//	go test ./internal/audit/chain -run TestRegenerateFrozenVectors -regenerate-frozen-vectors

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

func writeFrozen(t *testing.T, path string, data []byte) { testutil.WriteFrozen(t, path, data) }

func marshalVectors(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func toKAT(e *chain.Event) katEvent {
	k := katEvent{ID: e.ID, Seq: e.Seq, Hash: hex.EncodeToString(e.Hash),
		RequestID: katString(e.RequestID), Rack: katString(e.Rack), ActorType: katString(e.ActorType),
		Actor: katString(e.Actor), ActorID: e.ActorID, TokenID: e.TokenID, Role: katString(e.Role),
		SourceIP: katString(e.SourceIP), UserAgent: katString(e.UserAgent), Method: katString(e.Method),
		Path: katString(e.Path), Route: katString(e.Route), Action: katString(e.Action), App: katString(e.App),
		Resource: katString(e.Resource), Permission: katString(e.Permission), Decision: katString(e.Decision),
		Reason: katString(e.Reason), Status: e.Status, DurationUS: e.DurationUS, Details: katString(e.Details)}
	if !e.Time.IsZero() {
		k.Time = e.Time.Format(time.RFC3339Nano) // keeps the zone and the nanoseconds of the input
	}
	return k
}

// typicalEvent is a proxied, allowed call with every field set.
func typicalEvent(t *testing.T) chain.Event {
	return chain.Event{Seq: 1, Time: mustTime(t, "2026-01-02T03:04:05.123456Z"),
		RequestID: "req-6f1c2a", Rack: "production", ActorType: "user", Actor: "alice@example.com", ActorID: 7,
		Role: "deployer", SourceIP: "203.0.113.9", UserAgent: "convox/3.19.4 (linux/amd64)", Method: "POST",
		Path: "/apps/web/releases/RABCDEF/promote", Route: "ReleasePromote", Action: "ReleasePromote", App: "web",
		Resource: "RABCDEF", Permission: "release:promote", Decision: "allow", Reason: "allowed", Status: 200,
		DurationUS: 183422, Details: `{"release":"RABCDEF"}`}
}

func TestRegenerateFrozenVectors(t *testing.T) {
	if !testutil.RegenerateFrozen() {
		t.Skip("generator of the frozen vectors; runs only with -regenerate-frozen-vectors (see kat_gen_test.go)")
	}
	type cv struct {
		Name      string   `json:"name"`
		About     string   `json:"about"`
		Event     katEvent `json:"event"`
		Canonical string   `json:"canonical"`
	}
	var cvs []cv
	add := func(name, about string, e chain.Event) {
		cvs = append(cvs, cv{Name: name, About: about, Event: toKAT(&e), Canonical: hex.EncodeToString(chain.Canonical(nil, &e))})
	}

	add("zero", "every field zero: zero time encodes as 0, empty strings as a zero length", chain.Event{})

	add("typical_allow", "a proxied call, allowed, every field set", typicalEvent(t))

	withIDHash := typicalEvent(t)
	withIDHash.ID, withIDHash.Hash = 4242, bytes.Repeat([]byte{0xab}, chain.HashSize)
	add("id_and_hash_not_encoded", "typical_allow with ID and Hash set: neither is part of the encoding (same bytes)", withIDHash)

	add("token_deny", "a token refused for want of a permission, with details", chain.Event{Seq: 2,
		Time: mustTime(t, "2026-01-02T03:04:06.000001Z"), RequestID: "req-2", Rack: "staging", ActorType: "token",
		Actor: "token:ci-deploy", ActorID: 3, TokenID: 19, Role: "viewer", SourceIP: "2001:db8::1",
		UserAgent: "curl/8.5.0", Method: "DELETE", Path: "/apps/api", Route: "AppDelete", Action: "AppDelete",
		App: "api", Permission: "app:delete", Decision: "deny", Reason: "missing_permission", Status: 403,
		DurationUS: 412, Details: `{"changes":[{"key":"DATABASE_URL","op":"changed","value":"hmac-sha256:0f3a"}]}`})

	add("admin_action_system", "a gateway administration action by the system, no request", chain.Event{Seq: 3,
		Time: mustTime(t, "2026-01-02T03:04:07Z"), ActorType: "system", Actor: "cli:audit-prune",
		Action: "audit.prune", Decision: "allow", Reason: "allowed", Details: `{"deleted_events":1000,"through_seq":1000}`})

	add("non_ascii", "UTF-8 beyond ASCII: lengths count bytes, not characters", chain.Event{Seq: 4,
		Time: mustTime(t, "2026-06-30T23:59:59.999999Z"), RequestID: "req-ü", Rack: "prod-東京", ActorType: "user",
		Actor: "josé.müller@exämple.com", ActorID: 12, Role: "管理者", SourceIP: "198.51.100.7",
		UserAgent: "Mozilla/5.0 🚀 e\u0301", Method: "PUT", Path: "/apps/café/environment", Route: "EnvSet",
		Action: "EnvSet", App: "café", Resource: "Ω", Permission: "env:set", Decision: "allow", Reason: "allowed",
		Status: 200, DurationUS: 1, Details: `{"note":"naïve — “quoted” \u2028"}`})

	add("invalid_utf8", "bytes that are not UTF-8 (and NUL, newline) are encoded verbatim, never replaced", chain.Event{Seq: 5,
		Time: mustTime(t, "2026-01-02T03:04:08Z"), RequestID: "\xff\xfe", Rack: "r\x00ack", ActorType: "anonymous",
		Actor: "\xc3", UserAgent: "bad\xe2\x82agent", Method: "GET", Path: "/apps/\x80\x81", Decision: "deny",
		Reason: "no_credentials", Status: 401, Details: "line1\nline2\r\n\t\x00\xff"})

	add("large_ints", "the extremes of every integer: fixed-width big-endian two's complement", chain.Event{
		Seq: math.MaxInt64, Time: mustTime(t, "9999-12-31T23:59:59.999999Z"), ActorID: math.MaxInt64,
		TokenID: math.MinInt64, Status: math.MaxInt32, DurationUS: math.MinInt64, Decision: "allow"})

	add("negative_ints", "-1 everywhere an integer is", chain.Event{Seq: -1, Time: mustTime(t, "1969-12-31T23:59:59.999999Z"),
		ActorID: -1, TokenID: -1, Status: -1, DurationUS: -1})

	add("time_truncated_to_micros", "nanoseconds beyond the microsecond and the zone do not matter: "+
		"2026-01-02T08:34:05.123456789+05:30 is 2026-01-02T03:04:05.123456Z", chain.Event{Seq: 1,
		Time: mustTime(t, "2026-01-02T08:34:05.123456789+05:30")})

	add("pre_epoch_time", "a time before 1970 is a negative microsecond count (floor): "+
		"1969-12-31T23:59:59.9999995Z is -1µs", chain.Event{Seq: 6, Time: mustTime(t, "1969-12-31T23:59:59.9999995Z")})

	add("unix_epoch", "1970-01-01T00:00:00Z is not the zero time, and also encodes as 0", chain.Event{Seq: 7,
		Time: mustTime(t, "1970-01-01T00:00:00Z")})

	add("boundary_a", "with boundary_b: the same concatenated bytes split differently encode differently",
		chain.Event{Seq: 8, Rack: "ab", ActorType: "", Actor: "c"})
	add("boundary_b", "see boundary_a", chain.Event{Seq: 8, Rack: "a", ActorType: "b", Actor: "c"})

	add("long_string", "a 300-byte details string: the length prefix is 32 bits (0000012c)", chain.Event{Seq: 9,
		Details: `{"blob":"` + strings.Repeat("0123456789", 30)[:300-len(`{"blob":""}`)] + `"}`})

	writeFrozen(t, canonicalVectors, marshalVectors(t, struct {
		Comment       string `json:"comment"`
		SchemaVersion int    `json:"schema_version"`
		Vectors       []cv   `json:"vectors"`
	}{
		"FROZEN known-answer vectors of chain.Canonical (audit event encoding v1). Changing them breaks " +
			"every deployed audit log; see internal/audit/chain/kat_test.go. Strings that are not valid UTF-8 " +
			"are given as {\"hex\": ...}; times are RFC 3339 (\"\" is the zero time).",
		chain.SchemaVersion, cvs,
	}))

	// The chain: five events from genesis, then three more linked after
	// the head they reached (as a second append transaction would).
	type want struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	}
	type batch struct {
		About    string     `json:"about"`
		HeadSeq  int64      `json:"head_seq"`
		HeadHash string     `json:"head_hash"`
		Events   []katEvent `json:"events"`
		Want     []want     `json:"want"`
	}
	base := typicalEvent(t)
	mk := func(i int, mod func(e *chain.Event)) *chain.Event {
		e := base
		e.Seq = 0
		e.Time = base.Time.Add(time.Duration(i) * 1500 * time.Microsecond)
		e.RequestID = "req-" + string(rune('a'+i))
		mod(&e)
		return &e
	}
	noop := func(*chain.Event) {}
	first := []*chain.Event{
		mk(0, noop),
		mk(1, func(e *chain.Event) { e.Decision, e.Reason, e.Status = "deny", "missing_permission", 403 }),
		mk(2, func(e *chain.Event) { e.Actor, e.ActorType, e.TokenID = "token:ci", "token", 5 }),
		mk(3, func(e *chain.Event) { e.Details = "" }),
		mk(4, func(e *chain.Event) { e.Time = time.Time{} }),
	}
	second := []*chain.Event{
		mk(5, func(e *chain.Event) { e.Actor = "zoë@example.com" }),
		mk(6, func(e *chain.Event) { e.UserAgent = "\xff" }),
		mk(7, func(e *chain.Event) { e.Action, e.Route, e.Method, e.Path = "audit.prune", "", "", "" }),
	}
	var batches []batch
	headSeq, headHash := int64(0), []byte(nil)
	for i, evs := range [][]*chain.Event{first, second} {
		b := batch{About: []string{"five events appended to an empty chain (head_seq 0: the genesis hash)",
			"three events appended after the head the first batch reached"}[i], HeadSeq: headSeq, HeadHash: hex.EncodeToString(headHash)}
		for _, e := range evs {
			b.Events = append(b.Events, toKAT(e))
		}
		chain.Link(headSeq, headHash, evs)
		for _, e := range evs {
			b.Want = append(b.Want, want{Seq: e.Seq, Hash: hex.EncodeToString(e.Hash)})
		}
		headSeq, headHash = evs[len(evs)-1].Seq, evs[len(evs)-1].Hash
		batches = append(batches, b)
	}
	writeFrozen(t, chainVectors, marshalVectors(t, struct {
		Comment string  `json:"comment"`
		Genesis string  `json:"genesis"`
		Batches []batch `json:"batches"`
	}{
		"FROZEN known-answer vectors of the audit hash chain: hash_n = SHA-256(hash_{n-1} || Canonical(event_n)), " +
			"hash_0 = genesis. Changing them breaks every deployed audit log; see internal/audit/chain/kat_test.go.",
		hex.EncodeToString(chain.Genesis()), batches,
	}))
}
