// Package yubiotptest is a fake Yubico OTP validation service (protocol
// 2.0) for tests: it checks requests and signs answers the way yubikey-val,
// the software behind YubiCloud, does, and mints OTPs for the keys a test
// registers. It shares no code with package yubiotp, so that a mistake in
// one is not mirrored in the other.
//
// Behaviour, as the real service's:
//   - Parameter checks first: nonce missing or not 16–40 alphanumerics,
//     client id not 1–10 digits, bad sl or timeout → MISSING_PARAMETER;
//     OTP not 32–48 modhex → BAD_OTP; unknown client id → NO_SUCH_CLIENT.
//     These answers are signed with an empty key (the service does not
//     know the client's yet) and carry only h, t and status.
//   - A request with h is checked with the client's key → BAD_SIGNATURE.
//     A request without h is served (the real service allows it).
//   - An OTP of an unknown public id, or one this server never minted →
//     BAD_OTP (h, t, status only).
//   - The same OTP with the same nonce as the last accepted one →
//     REPLAYED_REQUEST; an OTP at or before the last accepted one of its
//     key → REPLAYED_OTP; else OK. These carry otp and nonce, OK also sl
//     and, with timestamp=1, timestamp, sessioncounter and sessionuse.
//   - Answers are HTTP 200, CRLF-separated key=value lines ending with an
//     empty line, h computed over the other lines sorted by key.
//
// Replicas ([Server.Replica]) share keys and counters, as YubiCloud's
// servers do once synchronised: a client asking two of them in parallel
// gets OK from one and REPLAYED_REQUEST from the other.
package yubiotptest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Path is the verify endpoint's path on the fake's host.
const Path = "/wsapi/2.0/verify"

const modhex = "cbdefghijklnrtuv"

// Mode tampers with the server's answers, to test clients' checks.
type Mode int

const (
	// Honest answers as the real service does.
	Honest Mode = iota
	// BadSignature computes the answer's h with a wrong key.
	BadSignature
	// WrongNonce echoes a nonce other than the one sent (and signs it).
	WrongNonce
	// WrongOTP echoes an OTP other than the one sent (and signs it).
	WrongOTP
	// Stall never answers: the request waits until the client gives up
	// (or the server closes). It is counted but not processed.
	Stall
)

// state is what replicas share.
type state struct {
	mu       sync.Mutex
	clientID string
	key      []byte
	keys     map[string]*yubikey // by public id
}

type yubikey struct {
	minted    map[string]int // token → counter
	next      int            // counter of the next minted OTP
	last      int            // counter of the last accepted OTP (0: none)
	lastNonce string
}

// Server is one fake validation server.
type Server struct {
	// URL is the verify endpoint, e.g. http://127.0.0.1:1234/wsapi/2.0/verify.
	URL string

	t  testing.TB
	st *state
	hs *httptest.Server

	mu       sync.Mutex
	mode     Mode
	status   string        // forced status; "" for the real outcome
	hold     chan struct{} // non-nil: answers wait until it is closed
	requests int           // received on Path
	finished int           // of those, handled (answered or abandoned)
	changed  chan struct{} // closed and replaced when the counts change
	closed   chan struct{} // closed when the test ends
}

// NewServer starts a fake service on loopback that knows one client, with
// clientID (digits) and key (the raw API key; see NewKey), and stops it when
// the test ends.
func NewServer(t testing.TB, clientID string, key []byte) *Server {
	t.Helper()
	st := &state{clientID: clientID, key: append([]byte(nil), key...), keys: map[string]*yubikey{}}
	return start(t, st)
}

// Replica starts another server sharing s's client, keys and counters.
func (s *Server) Replica(t testing.TB) *Server {
	t.Helper()
	return start(t, s.st)
}

func start(t testing.TB, st *state) *Server {
	s := &Server{t: t, st: st, changed: make(chan struct{}), closed: make(chan struct{})}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL + Path
	t.Cleanup(func() {
		close(s.closed) // ends stalled and held requests first
		s.hs.Close()
	})
	return s
}

// NewKey returns a random 20-byte API key and its base64 form, as the
// service issues them.
func NewKey() ([]byte, string) {
	k := make([]byte, 20)
	rand.Read(k)
	return k, base64.StdEncoding.EncodeToString(k)
}

// AddKey registers a YubiKey by its public id (1–16 modhex characters).
func (s *Server) AddKey(publicID string) {
	s.t.Helper()
	if n := len(publicID); n < 1 || n > 16 || !isModhex(publicID) {
		s.t.Fatalf("yubiotptest: AddKey(%q): a public id is 1–16 modhex characters", publicID)
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.keys[publicID] == nil {
		s.st.keys[publicID] = &yubikey{minted: map[string]int{}, next: 1}
	}
}

// OTP mints a fresh OTP for a registered key, as if its button were
// pressed: the server accepts it once, and answers REPLAYED_OTP for it, or
// any OTP minted before it, once a later one has been accepted. Call it
// from the test's goroutine (it fails the test for an unknown key).
func (s *Server) OTP(publicID string) string {
	s.t.Helper()
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k := s.st.keys[publicID]
	if k == nil {
		s.t.Fatalf("yubiotptest: OTP(%q): key not registered (AddKey)", publicID)
		return ""
	}
	for {
		tok := randomModhex(32)
		if _, dup := k.minted[tok]; !dup {
			k.minted[tok] = k.next
			k.next++
			return publicID + tok
		}
	}
}

// RandomOTP returns a well-formed OTP for publicID that no server minted
// (BAD_OTP to the fake).
func RandomOTP(publicID string) string { return publicID + randomModhex(32) }

// SetMode sets how the server tampers with its answers (Honest to stop).
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

// SetStatus makes the server answer status to requests that pass the
// parameter and signature checks, without looking at the OTP or changing
// any counter; "" goes back to the real outcome. The answer carries otp,
// nonce, sl and counters as the real one for that status would.
func (s *Server) SetStatus(status string) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// Hold makes the server keep later requests waiting (counted, not
// processed) until release is called, which lets them proceed; requests
// the client abandons meanwhile end unanswered.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Requests returns how many verify requests the server has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Finished returns how many verify requests the server is done with,
// answered or abandoned by the client.
func (s *Server) Finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

// WaitRequests waits until the server has received n requests.
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.requests >= n })
}

// WaitFinished waits until the server is done with n requests; a stalled
// request is done when its client goes away.
func (s *Server) WaitFinished(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.finished >= n })
}

func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// count adds to the counters under s.mu and wakes the waiters.
func (s *Server) count(req, fin int) {
	s.mu.Lock()
	s.requests += req
	s.finished += fin
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	s.count(1, 0)
	defer s.count(0, 1)

	s.mu.Lock()
	mode, forced, hold := s.mode, s.status, s.hold
	s.mu.Unlock()
	if mode == Stall {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}

	a := s.st.verify(r, forced)
	switch mode {
	case BadSignature:
		a.key = append(append([]byte(nil), a.key...), 'x')
	case WrongNonce:
		a.set("nonce", randomAlnum(32))
	case WrongOTP:
		a.set("otp", RandomOTP("cccccccccccc"))
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, a.encode())
}

// reply is an answer under construction: extra lines in order, and the key
// that signs it.
type reply struct {
	status string
	extra  [][2]string
	key    []byte
}

func (a *reply) set(k, v string) {
	for i := range a.extra {
		if a.extra[i][0] == k {
			a.extra[i][1] = v
			return
		}
	}
	a.extra = append(a.extra, [2]string{k, v})
}

// encode writes the answer as yubikey-val does: h, t, the extras, status,
// an empty line; h over all but itself, sorted by key.
func (a *reply) encode() string {
	now := time.Now().UTC()
	t := fmt.Sprintf("%sZ0%03d", now.Format("2006-01-02T15:04:05"), now.Nanosecond()/1e6)
	all := map[string]string{"status": a.status, "t": t}
	for _, kv := range a.extra {
		all[kv[0]] = kv[1]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "h=%s\r\nt=%s\r\n", signature(a.key, all), t)
	for _, kv := range a.extra {
		fmt.Fprintf(&b, "%s=%s\r\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "status=%s\r\n\r\n", a.status)
	return b.String()
}

// signature is the protocol's: base64 HMAC-SHA1 over k=v pairs sorted by
// key and joined with &.
func signature(key []byte, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + params[k]
	}
	m := hmac.New(sha1.New, key)
	m.Write([]byte(strings.Join(pairs, "&")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verify follows ykval-verify.php's order of checks.
func (st *state) verify(r *http.Request, forced string) *reply {
	q := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	otp := strings.ToLower(get("otp"))
	nonce, client, sl, timeout := get("nonce"), get("id"), get("sl"), get("timeout")
	unsigned := func(status string) *reply { return &reply{status: status} }

	if nonce == "" {
		return unsigned("MISSING_PARAMETER")
	}
	if sl != "" && !strings.EqualFold(sl, "fast") && !strings.EqualFold(sl, "secure") {
		if n, err := strconv.Atoi(sl); err != nil || n < 1 {
			return unsigned("MISSING_PARAMETER")
		}
	}
	if timeout != "" && !isDigits(timeout) {
		return unsigned("MISSING_PARAMETER")
	}
	if n := len(otp); n < 32 || n > 48 || !isModhex(otp) {
		return unsigned("BAD_OTP")
	}
	if client == "0" || len(client) > 10 || !isDigits(client) {
		return unsigned("MISSING_PARAMETER")
	}
	if n := len(nonce); n < 16 || n > 40 || !isAlnum(nonce) {
		return unsigned("MISSING_PARAMETER")
	}
	if client != st.clientID {
		return unsigned("NO_SUCH_CLIENT")
	}
	signed := func(status string) *reply { return &reply{status: status, key: st.key} }
	if h := q.Get("h"); h != "" {
		params := map[string]string{}
		for k, vs := range q {
			if k != "h" && len(vs) > 0 {
				params[k] = vs[0]
			}
		}
		want := signature(st.key, params)
		if !hmac.Equal([]byte(want), []byte(h)) {
			return signed("BAD_SIGNATURE")
		}
	}
	withEcho := func(status string) *reply {
		a := signed(status)
		a.set("otp", otp)
		a.set("nonce", nonce)
		return a
	}
	ok := func(counter int) *reply {
		a := withEcho("OK")
		a.set("sl", "100")
		if q.Get("timestamp") == "1" {
			a.set("timestamp", strconv.Itoa(counter*8))
			a.set("sessioncounter", strconv.Itoa(1+counter/256))
			a.set("sessionuse", strconv.Itoa(counter%256))
		}
		return a
	}

	switch forced {
	case "":
	case "OK":
		return ok(1)
	case "REPLAYED_OTP", "REPLAYED_REQUEST":
		return withEcho(forced)
	case "NOT_ENOUGH_ANSWERS":
		a := withEcho(forced)
		a.set("sl", "0")
		return a
	default:
		return signed(forced)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	pub, tok := otp[:len(otp)-32], otp[len(otp)-32:]
	k := st.keys[pub]
	if k == nil {
		return signed("BAD_OTP")
	}
	counter, minted := k.minted[tok]
	if !minted {
		return signed("BAD_OTP")
	}
	if counter == k.last && nonce == k.lastNonce {
		return withEcho("REPLAYED_REQUEST")
	}
	if counter <= k.last {
		return withEcho("REPLAYED_OTP")
	}
	k.last, k.lastNonce = counter, nonce
	return ok(counter)
}

func isModhex(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(modhex, s[i]) < 0 {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func randomModhex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = modhex[b[i]&15]
	}
	return string(b)
}

func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789" // 36: a little bias is fine here
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
