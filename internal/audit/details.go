package audit

import (
	"encoding/json"
)

// Redacted replaces a secret value in audit details.
const Redacted = "[redacted]"

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
