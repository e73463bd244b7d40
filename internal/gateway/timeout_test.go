package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
)

// slowReader yields its text a little at a time over about total.
type slowReader struct {
	left  string
	delay time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.left == "" {
		return 0, io.EOF
	}
	time.Sleep(r.delay)
	n := copy(p[:min(len(p), 4)], r.left)
	r.left = r.left[n:]
	return n, nil
}

// The request timeout bounds only the wait for the rack's headers, counted
// from when the request was sent: a rack that does not answer gets a 504,
// while a slow upload and a response that streams for longer than the
// timeout go through whole.
func TestRackRequestTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/apps":
			select { // never answers in time
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case strings.HasPrefix(r.URL.Path, "/apps/myapp/objects/"):
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"url":"object:///`+string(b)+`"}`)
		case r.URL.Path == "/apps/myapp":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"name":"myapp",`)
			w.(http.Flusher).Flush()
			time.Sleep(3 * timeout) // the body takes longer than the timeout
			_, _ = io.WriteString(w, `"status":"running"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer slow.Close()
	e := newEnv(t, func(c *config.Config) {
		c.RequestTimeout = config.Duration(timeout)
		c.Racks = append(c.Racks, config.Rack{Name: "slow", URL: slow.URL, Password: "slow-rack-password"})
	})
	admin := e.tokens[authz.RoleAdmin]

	start := time.Now()
	status, body := read(t, e.do("GET", "/racks/slow/apps", admin, nil, nil))
	// The 504 and its message show the gateway's timeout cut the call (the
	// rack itself would have answered after 5 s); only the lower bound of
	// the time taken is certain on a loaded machine.
	if took := time.Since(start); status != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer in time") ||
		took < timeout {
		t.Errorf("rack that never answers: %d after %v: %s", status, took, body)
	}

	status, body = read(t, e.do("GET", "/racks/slow/apps/myapp", admin, nil, nil))
	if status != http.StatusOK || body != `{"name":"myapp","status":"running"}` {
		t.Errorf("response streaming past the timeout: %d %q", status, body)
	}

	payload := strings.Repeat("x", 48)
	status, body = read(t, e.do("POST", "/racks/slow/apps/myapp/objects/tmp/k", admin,
		&slowReader{left: payload, delay: 3 * timeout / 12}, nil))
	if status != http.StatusOK || !strings.Contains(body, payload) {
		t.Errorf("upload slower than the timeout: %d %q", status, body)
	}
}
