package gateway_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const exitMarker = "F1E49A85-0AD7-4AEF-A618-C249C6E6568D"

var exitRe = regexp.MustCompile(exitMarker + `:(\d+)\n`)

// readStream reads text frames until the empty binary frame that ends a
// convox stream, returning the text and the exit code (-1 if none).
func readStream(t *testing.T, c *websocket.Conn) (string, int) {
	t.Helper()
	var out []byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		typ, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read frame: %v (so far %q)", err, out)
		}
		if typ == websocket.BinaryMessage && len(b) == 0 {
			break
		}
		if typ != websocket.TextMessage {
			t.Fatalf("unexpected frame type %d", typ)
		}
		out = append(out, b...)
	}
	code := -1
	if m := exitRe.FindSubmatch(out); m != nil {
		code, _ = strconv.Atoi(string(m[1]))
		out = exitRe.ReplaceAll(out, nil)
	}
	return string(out), code
}
