package simrack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

const testPassword = "rackpw-0123456789"

// testRack is a rack served on loopback with shortened simulated delays.
type testRack struct {
	*Rack
	srv *httptest.Server
	t   *testing.T
}

func newTestRack(t *testing.T) *testRack {
	t.Helper()
	r := New(Config{Password: testPassword})
	r.buildDuration = 300 * time.Millisecond
	r.promoteDuration = 100 * time.Millisecond
	r.followInterval = 20 * time.Millisecond
	r.wsLinger = 500 * time.Millisecond
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return &testRack{Rack: r, srv: srv, t: t}
}

// req describes a test request.
type req struct {
	method string
	path   string // may include a query
	user   string // Basic username; "" means "convox"
	pass   string // Basic password; "" means the rack password
	noAuth bool
	form   url.Values
	body   io.Reader
	header map[string]string
}

// resp is a fully read response.
type resp struct {
	status int
	header http.Header
	body   string
}

func (tr *testRack) do(q req) resp {
	tr.t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	body := q.body
	if q.form != nil {
		body = strings.NewReader(q.form.Encode())
	}
	hr, err := http.NewRequest(method, tr.srv.URL+q.path, body)
	if err != nil {
		tr.t.Fatal(err)
	}
	// Like the CLI: octet-stream unless a form is sent.
	hr.Header.Set("Content-Type", "application/octet-stream")
	if q.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if !q.noAuth {
		user, pass := q.user, q.pass
		if user == "" {
			user = "convox"
		}
		if pass == "" {
			pass = testPassword
		}
		hr.SetBasicAuth(user, pass)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tr.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

// jsonDo performs q, requires status 200 and decodes the body into v.
func (tr *testRack) jsonDo(q req, v any) {
	tr.t.Helper()
	r := tr.do(q)
	if r.status != http.StatusOK {
		tr.t.Fatalf("%s %s: status %d body %q", q.method, q.path, r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		tr.t.Fatalf("%s %s: decode %q: %v", q.method, q.path, r.body, err)
	}
}

// token mints a JWT with the rack password.
func (tr *testRack) token(role string) string {
	tr.t.Helper()
	var v struct{ Token string }
	tr.jsonDo(req{method: "POST", path: "/system/jwt/token", form: url.Values{"role": {role}, "durationInHour": {"1"}}}, &v)
	return v.Token
}

// dial opens a websocket like the CLI does (Origin = scheme://host).
func (tr *testRack) dial(path string, user, pass string, header map[string]string) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(tr.srv.URL, "http") + path
	h := http.Header{}
	h.Set("Origin", tr.srv.URL)
	if user != "" || pass != "" {
		hr := &http.Request{Header: http.Header{}}
		hr.SetBasicAuth(user, pass)
		h.Set("Authorization", hr.Header.Get("Authorization"))
	}
	for k, v := range header {
		h.Set(k, v)
	}
	return websocket.DefaultDialer.Dial(u, h)
}

// mustDial dials with the rack password and requires 101.
func (tr *testRack) mustDial(path string, header map[string]string) *websocket.Conn {
	tr.t.Helper()
	conn, res, err := tr.dial(path, "convox", testPassword, header)
	if err != nil {
		tr.t.Fatalf("dial %s: %v", path, err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		tr.t.Fatalf("dial %s: status %d", path, res.StatusCode)
	}
	tr.t.Cleanup(func() { conn.Close() })
	return conn
}

// frame is one websocket message.
type frame struct {
	binary bool
	data   string
}

// readUntilEOF reads frames until the empty binary frame, returning the
// text frames concatenated and the frames seen.
func readUntilEOF(t *testing.T, conn *websocket.Conn) (string, []frame) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var sb strings.Builder
	var frames []frame
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read after %q: %v", sb.String(), err)
		}
		frames = append(frames, frame{binary: mt == websocket.BinaryMessage, data: string(data)})
		if mt == websocket.BinaryMessage {
			if len(data) != 0 {
				t.Fatalf("non-empty binary frame %q", data)
			}
			return sb.String(), frames
		}
		sb.Write(data)
	}
}

// sendEOF sends the client's end of stdin.
func sendEOF(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{}); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until cond is true (testutil.Eventually).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, cond)
}
