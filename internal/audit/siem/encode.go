// Package siem streams committed audit events to a SIEM, either as NDJSON on
// an io.Writer (for example stdout, picked up by a log shipper) or as batched
// NDJSON POSTs to an HTTPS webhook.
//
// Events reach a Sink after the store has committed them, already in chain
// sequence order. Every record carries its "seq" and chain "hash", so a
// receiver can detect gaps and verify the chain independently. Sinks never
// reorder events. When the webhook sink has to drop events (its queue
// overflowed, or the receiver rejected a batch with a 4xx), the next batch
// it delivers says so: see Webhook.
package siem

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Source is the value of every record's "source" field.
const Source = "rack-gateway"

// Sink receives committed audit events in sequence order. Send must not
// block the caller for long: it enqueues. The sink may keep references to
// the events' byte slices (Hash), so callers must not modify them afterwards.
type Sink interface {
	Send(events []chain.Event)
	Close(ctx context.Context) error
}

// Record is the NDJSON shape of one event. Field names are stable
// lower_snake_case; every field except details, details_raw and the drop
// markers is always present. Time is RFC 3339 with nanoseconds, in UTC; Hash
// is lowercase hex. Details is the event's details embedded as a JSON object
// when they are a valid JSON object; any other non-empty value is carried
// verbatim as the string DetailsRaw instead.
//
// DroppedBeforeSeq and DroppedCount are set only by the webhook sink, on the
// first record of the first batch delivered after it dropped events: the
// DroppedCount events it lost all precede DroppedBeforeSeq (which equals
// that record's Seq).
type Record struct {
	Source           string          `json:"source"`
	Seq              int64           `json:"seq"`
	Hash             string          `json:"hash"`
	ID               int64           `json:"id"`
	Time             string          `json:"time"`
	RequestID        string          `json:"request_id"`
	Rack             string          `json:"rack"`
	ActorType        string          `json:"actor_type"`
	Actor            string          `json:"actor"`
	ActorID          int64           `json:"actor_id"`
	TokenID          int64           `json:"token_id"`
	Role             string          `json:"role"`
	SourceIP         string          `json:"source_ip"`
	UserAgent        string          `json:"user_agent"`
	Method           string          `json:"method"`
	Path             string          `json:"path"`
	Route            string          `json:"route"`
	Action           string          `json:"action"`
	App              string          `json:"app"`
	Resource         string          `json:"resource"`
	Permission       string          `json:"permission"`
	Decision         string          `json:"decision"`
	Reason           string          `json:"reason"`
	Status           int             `json:"status"`
	DurationUS       int64           `json:"duration_us"`
	Details          json.RawMessage `json:"details,omitempty"`
	DetailsRaw       string          `json:"details_raw,omitempty"`
	DroppedBeforeSeq int64           `json:"dropped_before_seq,omitempty"`
	DroppedCount     int64           `json:"dropped_count,omitempty"`
}

// NewRecord converts an event to its Record.
func NewRecord(e chain.Event) Record {
	r := Record{
		Source:     Source,
		Seq:        e.Seq,
		Hash:       hex.EncodeToString(e.Hash),
		ID:         e.ID,
		Time:       e.Time.UTC().Format(time.RFC3339Nano),
		RequestID:  e.RequestID,
		Rack:       e.Rack,
		ActorType:  e.ActorType,
		Actor:      e.Actor,
		ActorID:    e.ActorID,
		TokenID:    e.TokenID,
		Role:       e.Role,
		SourceIP:   e.SourceIP,
		UserAgent:  e.UserAgent,
		Method:     e.Method,
		Path:       e.Path,
		Route:      e.Route,
		Action:     e.Action,
		App:        e.App,
		Resource:   e.Resource,
		Permission: e.Permission,
		Decision:   e.Decision,
		Reason:     e.Reason,
		Status:     e.Status,
		DurationUS: e.DurationUS,
	}
	if e.Details != "" {
		if isJSONObject(e.Details) {
			r.Details = json.RawMessage(e.Details)
		} else {
			r.DetailsRaw = e.Details
		}
	}
	return r
}

// isJSONObject reports whether s is one valid JSON object.
func isJSONObject(s string) bool {
	b := bytes.TrimLeft([]byte(s), " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// Encode returns the NDJSON line for e, without a trailing newline. The line
// never contains a newline: embedded details are compacted.
func Encode(e chain.Event) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeRecord(&buf, NewRecord(e)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// encodeRecord appends r's JSON and a newline to buf. HTML escaping is off
// so that paths and details read naturally in the SIEM; the output is still
// valid JSON. Embedded details are compacted by the encoder.
func encodeRecord(buf *bytes.Buffer, r Record) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
