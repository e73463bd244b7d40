// Package export writes and reads audit exports. JSONL exports carry every
// field exactly as stored, with sequence numbers, chain hashes and the
// signed checkpoints, so `rack-gateway audit verify` can check them offline;
// CSV exports are for people.
package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Format is the JSONL export's format name, in its header line.
const Format = "rack-gateway-audit-export/v1"

// Header is the first line of a JSONL export.
type Header struct {
	Type       string `json:"type"` // "header"
	Format     string `json:"format"`
	ExportedAt string `json:"exported_at"`
	// FirstSeq and PrevHash say where the exported chain starts: the hash
	// of event FirstSeq-1 (all zeros for 1). Verification of a suffix (after
	// a prune, or --since) starts from there.
	FirstSeq int64  `json:"first_seq"`
	PrevHash string `json:"prev_hash"`
	// Filtered exports (by app or actor) skip events and cannot be
	// chain-verified.
	Filtered bool `json:"filtered"`
	// Until, set on an export bounded in time at its end (RFC 3339), makes
	// the file a slice of the chain: checkpoints after its last event are
	// not expected, and its End line is required, so a file cut short is
	// still caught.
	Until string `json:"until,omitempty"`
}

// End is the last line of a JSONL export: where its events end. Exports
// written before it existed have none; a bounded one (Header.Until) must.
type End struct {
	Type    string `json:"type"` // "end"
	LastSeq int64  `json:"last_seq"`
	Events  int64  `json:"events"`
}

// Event is one event line.
type Event struct {
	Type       string `json:"type"` // "event"
	ID         int64  `json:"id"`
	Seq        int64  `json:"seq"`
	Hash       string `json:"hash"`
	Schema     int    `json:"schema"`
	Time       string `json:"time"`
	RequestID  string `json:"request_id"`
	Rack       string `json:"rack"`
	ActorType  string `json:"actor_type"`
	Actor      string `json:"actor"`
	ActorID    int64  `json:"actor_id"`
	TokenID    int64  `json:"token_id"`
	Role       string `json:"role"`
	SourceIP   string `json:"source_ip"`
	UserAgent  string `json:"user_agent"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Route      string `json:"route"`
	Action     string `json:"action"`
	App        string `json:"app"`
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
	Status     int    `json:"status"`
	DurationUS int64  `json:"duration_us"`
	Details    string `json:"details"` // the stored JSON text, verbatim
}

// Checkpoint is one checkpoint line (after the events).
type Checkpoint struct {
	Type       string `json:"type"` // "checkpoint"
	Seq        int64  `json:"seq"`
	Statement  string `json:"statement"`
	Signature  []byte `json:"signature"`
	CreatedAt  string `json:"created_at"`
	AnchoredAt string `json:"anchored_at,omitempty"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// FromStore converts a stored event to its export line.
func FromStore(e *chain.Event, schema int) Event {
	return Event{Type: "event", ID: e.ID, Seq: e.Seq, Hash: hex.EncodeToString(e.Hash), Schema: schema,
		Time: fmtTime(e.Time), RequestID: e.RequestID, Rack: e.Rack, ActorType: e.ActorType, Actor: e.Actor,
		ActorID: e.ActorID, TokenID: e.TokenID, Role: e.Role, SourceIP: e.SourceIP, UserAgent: e.UserAgent,
		Method: e.Method, Path: e.Path, Route: e.Route, Action: e.Action, App: e.App, Resource: e.Resource,
		Permission: e.Permission, Decision: e.Decision, Reason: e.Reason, Status: e.Status,
		DurationUS: e.DurationUS, Details: e.Details}
}

// ToStore converts an export line back to the stored event, exactly.
func (x *Event) ToStore(e *chain.Event) error {
	t, err := parseTime(x.Time)
	if err != nil {
		return fmt.Errorf("seq %d: bad time: %w", x.Seq, err)
	}
	h, err := hex.DecodeString(x.Hash)
	if err != nil {
		return fmt.Errorf("seq %d: bad hash: %w", x.Seq, err)
	}
	*e = chain.Event{ID: x.ID, Seq: x.Seq, Hash: h, Time: t, RequestID: x.RequestID, Rack: x.Rack,
		ActorType: x.ActorType, Actor: x.Actor, ActorID: x.ActorID, TokenID: x.TokenID, Role: x.Role,
		SourceIP: x.SourceIP, UserAgent: x.UserAgent, Method: x.Method, Path: x.Path, Route: x.Route,
		Action: x.Action, App: x.App, Resource: x.Resource, Permission: x.Permission, Decision: x.Decision,
		Reason: x.Reason, Status: x.Status, DurationUS: x.DurationUS, Details: x.Details}
	return nil
}

// JSONLWriter writes a JSONL export: WriteHeader, then events, then
// checkpoints.
type JSONLWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONLWriter writes to w; call Flush at the end.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{w: bw, enc: enc}
}

// WriteHeader writes the header line.
func (j *JSONLWriter) WriteHeader(h Header) error {
	h.Type, h.Format = "header", Format
	return j.enc.Encode(h)
}

// WriteEvent writes one event line.
func (j *JSONLWriter) WriteEvent(e *chain.Event, schema int) error {
	return j.enc.Encode(FromStore(e, schema))
}

// WriteCheckpoint writes one checkpoint line.
func (j *JSONLWriter) WriteCheckpoint(c *store.Checkpoint) error {
	return j.enc.Encode(Checkpoint{Type: "checkpoint", Seq: c.Seq, Statement: c.Statement, Signature: c.Signature,
		CreatedAt: fmtTime(c.CreatedAt), AnchoredAt: fmtTime(c.AnchoredAt)})
}

// WriteEnd writes the end line.
func (j *JSONLWriter) WriteEnd(lastSeq, events int64) error {
	return j.enc.Encode(End{Type: "end", LastSeq: lastSeq, Events: events})
}

// Flush writes buffered data.
func (j *JSONLWriter) Flush() error { return j.w.Flush() }

var eventPrefix = []byte(`{"type":"event",`)

// Reader reads a JSONL export line by line.
type Reader struct {
	sc     *bufio.Scanner
	line   int
	Header Header
	// Checkpoints holds the checkpoint lines read so far (all of them once
	// Next has returned io.EOF).
	Checkpoints []store.Checkpoint
	// End is the end line, once Next has returned io.EOF (nil if the file
	// has none).
	End  *End
	ev   Event
	peek struct {
		Type string `json:"type"`
	}
}

// NewReader reads the header line of r.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	x := &Reader{sc: sc}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("export: empty file")
	}
	x.line = 1
	if err := json.Unmarshal(sc.Bytes(), &x.Header); err != nil || x.Header.Type != "header" || x.Header.Format != Format {
		return nil, fmt.Errorf("export: line 1 is not a %s header", Format)
	}
	return x, nil
}

// Next reads the next event into e; io.EOF at the end. Checkpoint lines are
// collected into Checkpoints on the way.
func (x *Reader) Next(e *chain.Event) error {
	for x.sc.Scan() {
		x.line++
		b := x.sc.Bytes()
		if x.End != nil {
			return fmt.Errorf("export: line %d follows the end line", x.line)
		}
		// Event lines as written by JSONLWriter start with their type;
		// skipping the separate type decode halves the cost of a large
		// verification. Other layouts (reformatted files) take the slow path.
		if bytes.HasPrefix(b, eventPrefix) {
			x.peek.Type = "event"
		} else if err := json.Unmarshal(b, &x.peek); err != nil {
			return fmt.Errorf("export: line %d: %w", x.line, err)
		}
		switch x.peek.Type {
		case "event":
			x.ev = Event{}
			if err := json.Unmarshal(b, &x.ev); err != nil {
				return fmt.Errorf("export: line %d: %w", x.line, err)
			}
			if err := x.ev.ToStore(e); err != nil {
				return fmt.Errorf("export: line %d: %w", x.line, err)
			}
			return nil
		case "checkpoint":
			var c Checkpoint
			if err := json.Unmarshal(b, &c); err != nil {
				return fmt.Errorf("export: line %d: %w", x.line, err)
			}
			created, err1 := parseTime(c.CreatedAt)
			anchored, err2 := parseTime(c.AnchoredAt)
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("export: line %d: %w", x.line, err)
			}
			x.Checkpoints = append(x.Checkpoints, store.Checkpoint{Seq: c.Seq, Statement: c.Statement,
				Signature: c.Signature, CreatedAt: created, AnchoredAt: anchored})
		case "end":
			var end End
			if err := json.Unmarshal(b, &end); err != nil {
				return fmt.Errorf("export: line %d: %w", x.line, err)
			}
			x.End = &end
		default:
			return fmt.Errorf("export: line %d: unknown type %q", x.line, x.peek.Type)
		}
	}
	if err := x.sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// CSVColumns returns the CSV export's columns (a copy).
func CSVColumns() []string { return append([]string(nil), csvColumns...) }

var csvColumns = []string{"seq", "time", "rack", "actor", "actor_type", "role", "source_ip", "method", "path",
	"action", "app", "resource", "permission", "decision", "reason", "status", "duration_ms", "request_id", "details"}

// CSVWriter writes a CSV export for people (not verifiable).
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter writes the header row to w.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	c := &CSVWriter{w: csv.NewWriter(w)}
	return c, c.w.Write(csvColumns)
}

// WriteEvent writes one row. Cells that a spreadsheet would run as a
// formula are prefixed with a quote.
func (c *CSVWriter) WriteEvent(e *chain.Event) error {
	row := []string{strconv.FormatInt(e.Seq, 10), fmtTime(e.Time), e.Rack, e.Actor, e.ActorType, e.Role,
		e.SourceIP, e.Method, e.Path, e.Action, e.App, e.Resource, e.Permission, e.Decision, e.Reason,
		strconv.Itoa(e.Status), strconv.FormatFloat(float64(e.DurationUS)/1000, 'f', 3, 64), e.RequestID, e.Details}
	for i, v := range row {
		if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
			row[i] = "'" + v
		}
	}
	return c.w.Write(row)
}

// Flush writes buffered rows and returns any write error.
func (c *CSVWriter) Flush() error { c.w.Flush(); return c.w.Error() }
