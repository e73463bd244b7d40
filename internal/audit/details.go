package audit

import (
	"encoding/json"
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
