package console

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// detailLine is one "key: value" line of an event's details.
type detailLine struct{ Key, Value string }

// maxDetailValue bounds one value as shown in the list (the event page
// shows it whole).
const maxDetailValue = 300

// detailLines renders an event's details (a JSON object) as key: value
// lines sorted by key, nested objects flattened with dotted keys, arrays
// and other values as compact JSON; text that is not a JSON object is one
// "details" line. The template escapes every line: details carry what
// clients sent (paths, names), which is hostile.
func detailLines(details string) []detailLine {
	if details == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(details)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		return []detailLine{{Key: "details", Value: details}}
	}
	var out []detailLine
	flatten("", m, &out)
	slices.SortFunc(out, func(a, b detailLine) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

func flatten(prefix string, m map[string]any, out *[]detailLine) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				*out = append(*out, detailLine{Key: key, Value: "{}"})
			}
			flatten(key, x, out)
		case string:
			*out = append(*out, detailLine{Key: key, Value: x})
		case json.Number:
			*out = append(*out, detailLine{Key: key, Value: x.String()})
		case bool:
			*out = append(*out, detailLine{Key: key, Value: strconv.FormatBool(x)})
		case nil:
			*out = append(*out, detailLine{Key: key, Value: "null"})
		default:
			b, _ := json.Marshal(x)
			*out = append(*out, detailLine{Key: key, Value: string(b)})
		}
	}
}

// shortLines cuts long values, for the list.
func shortLines(lines []detailLine) []detailLine {
	out := make([]detailLine, len(lines))
	for i, l := range lines {
		if len(l.Value) > maxDetailValue {
			l.Value = strings.ToValidUTF8(l.Value[:maxDetailValue], "") + "…"
		}
		out[i] = l
	}
	return out
}
