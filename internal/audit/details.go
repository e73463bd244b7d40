package audit

import (
	"encoding/json"
	"maps"
)

// Redacted replaces a secret value in audit details.
const Redacted = "[redacted]"

// WithPhase returns a copy of d with "phase" set: "attempt" for the record
// written before a change, "outcome" for the one after it.
func WithPhase(d map[string]any, phase string) map[string]any {
	out := make(map[string]any, len(d)+1)
	for k, v := range d {
		out[k] = v
	}
	out["phase"] = phase
	return out
}

// Phased is a detail object encoded once for the two records of a change,
// which differ only in "phase": the attempt written before it and the
// outcome after (the proxy's write-ahead). Encoding a map sorts its keys,
// which costs about as much as the rest of the record; this does it once.
type Phased struct {
	members string // the object's members without braces, each after a ','
}

// NewPhased encodes d for With. A "phase" of d's own is dropped: the
// record's phase is With's.
func NewPhased(d map[string]any) Phased {
	if _, ok := d["phase"]; ok {
		d = maps.Clone(d)
		delete(d, "phase")
	}
	s := Details(d)
	if len(s) <= 2 {
		return Phased{}
	}
	return Phased{members: "," + s[1:len(s)-1]}
}

// With returns the details with "phase" set to phase, first: the same
// object as Details(WithPhase(d, phase)), its keys in another order.
func (p Phased) With(phase string) string {
	q, err := json.Marshal(phase)
	if err != nil {
		return ""
	}
	return `{"phase":` + string(q) + p.members + "}"
}

// Details encodes an allow-listed detail object; nil or empty gives "".
func Details(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	b, err := json.Marshal(d)
	if err != nil {
		return ""
	}
	return string(b)
}
