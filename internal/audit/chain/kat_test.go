package chain_test

// Known-answer tests for the frozen audit event encoding (Canonical) and the
// hash chain (Link, Hasher). The expected bytes and hashes are checked in
// under testdata/ and are compared against what the code produces; the tests
// never write them.
//
// THESE VECTORS ARE FROZEN. Every event ever appended by a deployed gateway
// was hashed with this encoding, and every anchored checkpoint signs a head
// computed from it. If a test here fails, the code changed the format:
// fix the code. Regenerating the vectors (kat_gen_test.go,
// -regenerate-frozen-vectors) to make a failure go away makes every
// existing log fail verification, i.e. breaks every deployed log. A genuine
// format change must be a new SchemaVersion with a new tag, verified
// alongside v1, with new vector files next to these ones — never a rewrite
// of these.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

const (
	canonicalVectors = "testdata/canonical_v1.json"
	chainVectors     = "testdata/chain_v1.json"
)

// katString is a string in a vector file: a JSON string when it is valid
// UTF-8, otherwise {"hex": "…"} with its exact bytes (JSON strings cannot
// carry invalid UTF-8).
type katString string

func (s katString) MarshalJSON() ([]byte, error) {
	var v any = string(s)
	if !utf8.ValidString(string(s)) {
		v = struct {
			Hex string `json:"hex"`
		}{hex.EncodeToString([]byte(s))}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (s *katString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var h struct {
			Hex *string `json:"hex"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil || h.Hex == nil {
			return fmt.Errorf("want a string or {\"hex\": …}, got %s", b)
		}
		raw, err := hex.DecodeString(*h.Hex)
		if err != nil {
			return err
		}
		*s = katString(raw)
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = katString(v)
	return nil
}

// katEvent is chain.Event as written in the vector files. Time is RFC 3339
// with nanoseconds and any zone ("" for the zero time); Hash is hex.
type katEvent struct {
	ID         int64     `json:"id,omitempty"`
	Seq        int64     `json:"seq"`
	Hash       string    `json:"hash,omitempty"`
	Time       string    `json:"time"`
	RequestID  katString `json:"request_id"`
	Rack       katString `json:"rack"`
	ActorType  katString `json:"actor_type"`
	Actor      katString `json:"actor"`
	ActorID    int64     `json:"actor_id"`
	TokenID    int64     `json:"token_id"`
	Role       katString `json:"role"`
	SourceIP   katString `json:"source_ip"`
	UserAgent  katString `json:"user_agent"`
	Method     katString `json:"method"`
	Path       katString `json:"path"`
	Route      katString `json:"route"`
	Action     katString `json:"action"`
	App        katString `json:"app"`
	Resource   katString `json:"resource"`
	Permission katString `json:"permission"`
	Decision   katString `json:"decision"`
	Reason     katString `json:"reason"`
	Status     int       `json:"status"`
	DurationUS int64     `json:"duration_us"`
	Details    katString `json:"details"`
}

func (k *katEvent) event(t *testing.T) *chain.Event {
	t.Helper()
	var tm time.Time
	if k.Time != "" {
		var err error
		if tm, err = time.Parse(time.RFC3339Nano, k.Time); err != nil {
			t.Fatalf("vector time %q: %v", k.Time, err)
		}
	}
	h, err := hex.DecodeString(k.Hash)
	if err != nil {
		t.Fatalf("vector hash %q: %v", k.Hash, err)
	}
	if len(h) == 0 {
		h = nil
	}
	return &chain.Event{ID: k.ID, Seq: k.Seq, Hash: h, Time: tm,
		RequestID: string(k.RequestID), Rack: string(k.Rack), ActorType: string(k.ActorType), Actor: string(k.Actor),
		ActorID: k.ActorID, TokenID: k.TokenID, Role: string(k.Role), SourceIP: string(k.SourceIP),
		UserAgent: string(k.UserAgent), Method: string(k.Method), Path: string(k.Path), Route: string(k.Route),
		Action: string(k.Action), App: string(k.App), Resource: string(k.Resource), Permission: string(k.Permission),
		Decision: string(k.Decision), Reason: string(k.Reason), Status: k.Status, DurationUS: k.DurationUS,
		Details: string(k.Details)}
}

// canonicalFile is testdata/canonical_v1.json.
type canonicalFile struct {
	Comment       string `json:"comment"`
	SchemaVersion int    `json:"schema_version"`
	Vectors       []struct {
		Name      string   `json:"name"`
		About     string   `json:"about"`
		Event     katEvent `json:"event"`
		Canonical string   `json:"canonical"` // hex of chain.Canonical(nil, event)
	} `json:"vectors"`
}

// chainFile is testdata/chain_v1.json: batches linked one after another
// from the genesis hash.
type chainFile struct {
	Comment string `json:"comment"`
	Genesis string `json:"genesis"`
	Batches []struct {
		About    string     `json:"about"`
		HeadSeq  int64      `json:"head_seq"`  // Link's headSeq
		HeadHash string     `json:"head_hash"` // Link's headHash (hex; ignored for head_seq 0)
		Events   []katEvent `json:"events"`    // Link's input (seq and hash unset)
		Want     []struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		} `json:"want"`
	} `json:"batches"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The canonical encoding of each vector's event is exactly the checked-in
// bytes.
func TestCanonicalKnownAnswers(t *testing.T) {
	var f canonicalFile
	readJSON(t, canonicalVectors, &f)
	if f.SchemaVersion != chain.SchemaVersion {
		t.Fatalf("%s is for schema %d; chain.SchemaVersion is %d (a new version gets new vector files, these stay)",
			canonicalVectors, f.SchemaVersion, chain.SchemaVersion)
	}
	if len(f.Vectors) < 10 {
		t.Fatalf("only %d canonical vectors in %s", len(f.Vectors), canonicalVectors)
	}
	seen := map[string]string{}
	set := map[string]bool{} // fields of chain.Event some vector sets
	for _, v := range f.Vectors {
		ev := reflect.ValueOf(v.Event.event(t)).Elem()
		for i := range ev.NumField() {
			if !ev.Field(i).IsZero() {
				set[ev.Type().Field(i).Name] = true
			}
		}
		t.Run(v.Name, func(t *testing.T) {
			want, err := hex.DecodeString(v.Canonical)
			if err != nil {
				t.Fatal(err)
			}
			e := v.Event.event(t)
			got := chain.Canonical(nil, e)
			if !bytes.Equal(got, want) {
				t.Fatalf("chain.Canonical changed — this breaks every deployed audit log:\n got %x\nwant %x", got, want)
			}
			// Appending to a non-empty buffer does not disturb it.
			prefix := []byte("prefix")
			if got := chain.Canonical(bytes.Clone(prefix), e); !bytes.Equal(got, append(prefix, want...)) {
				t.Fatalf("Canonical(dst, e) does not append to dst")
			}
		})
		seen[v.Canonical] += v.Name + " "
	}
	// Every field is exercised (ID and Hash by the vector showing they are
	// not encoded).
	for i := range reflect.TypeFor[chain.Event]().NumField() {
		if name := reflect.TypeFor[chain.Event]().Field(i).Name; !set[name] {
			t.Errorf("no vector sets chain.Event.%s", name)
		}
	}
	// Only the vector that shows ID and Hash are not encoded shares its
	// encoding with another.
	dups := 0
	for _, names := range seen {
		if len(bytes.Fields([]byte(names))) > 1 {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("%d groups of vectors share an encoding, want 1 (the ID/Hash one): %v", dups, seen)
	}
}

// Link from genesis, then from the head it reached, assigns exactly the
// checked-in sequence numbers and hashes, and each hash is
// SHA-256(previous hash || Canonical(event)) as documented.
func TestChainKnownAnswers(t *testing.T) {
	var f chainFile
	readJSON(t, chainVectors, &f)
	if got := hex.EncodeToString(chain.Genesis()); got != f.Genesis {
		t.Fatalf("Genesis() = %s, want %s", got, f.Genesis)
	}
	if len(f.Batches) < 2 {
		t.Fatalf("want at least two batches in %s", chainVectors)
	}
	var headSeq int64
	headHash := chain.Genesis()
	for bi, b := range f.Batches {
		if b.HeadSeq != headSeq || (headSeq > 0 && b.HeadHash != hex.EncodeToString(headHash)) {
			t.Fatalf("batch %d starts at (%d, %s), not at the head (%d, %x) the previous one reached",
				bi, b.HeadSeq, b.HeadHash, headSeq, headHash)
		}
		if len(b.Events) != len(b.Want) || len(b.Events) == 0 {
			t.Fatalf("batch %d: %d events, %d expectations", bi, len(b.Events), len(b.Want))
		}
		evs := make([]*chain.Event, len(b.Events))
		for i := range b.Events {
			evs[i] = b.Events[i].event(t)
		}
		hh, err := hex.DecodeString(b.HeadHash)
		if err != nil {
			t.Fatal(err)
		}
		chain.Link(b.HeadSeq, hh, evs)
		prev := headHash
		var h chain.Hasher
		for i, e := range evs {
			w := b.Want[i]
			if e.Seq != w.Seq || hex.EncodeToString(e.Hash) != w.Hash {
				t.Fatalf("batch %d event %d: Link gave seq %d hash %x, want seq %d hash %s — the chain changed, "+
					"which breaks every deployed audit log", bi, i, e.Seq, e.Hash, w.Seq, w.Hash)
			}
			// The documented formula, computed independently.
			sum := sha256.Sum256(chain.Canonical(bytes.Clone(prev), e))
			if !bytes.Equal(sum[:], e.Hash) {
				t.Fatalf("batch %d event %d: hash is not SHA-256(prev || Canonical(event))", bi, i)
			}
			if got := h.Next(prev, e); !bytes.Equal(got, e.Hash) {
				t.Fatalf("batch %d event %d: Hasher.Next disagrees with Link", bi, i)
			}
			prev = e.Hash
		}
		headSeq, headHash = evs[len(evs)-1].Seq, evs[len(evs)-1].Hash
	}
}
