package yubiotp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultServer is YubiCloud's validation endpoint, used when a Client
// names no servers.
const DefaultServer = "https://api.yubico.com/wsapi/2.0/verify"

// DefaultTimeout bounds a Verify call when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxBody bounds a server's answer; real answers are about 250 bytes.
const maxBody = 4 << 10

// nonceLen is the length of the request nonce (the protocol allows 16–40
// alphanumerics; older servers refuse more than 32).
const nonceLen = 32

// Statuses a validation server answers with.
const (
	StatusOK                  = "OK"
	StatusBadOTP              = "BAD_OTP"
	StatusReplayedOTP         = "REPLAYED_OTP"
	StatusBadSignature        = "BAD_SIGNATURE"
	StatusMissingParameter    = "MISSING_PARAMETER"
	StatusNoSuchClient        = "NO_SUCH_CLIENT"
	StatusOperationNotAllowed = "OPERATION_NOT_ALLOWED"
	StatusBackendError        = "BACKEND_ERROR"
	StatusNotEnoughAnswers    = "NOT_ENOUGH_ANSWERS"
	StatusReplayedRequest     = "REPLAYED_REQUEST"
)

var (
	// ErrBadOTP: an authentic answer says the OTP is not valid (unknown
	// or disabled key, or a token that does not decrypt).
	ErrBadOTP = errors.New("yubiotp: the validation service rejected the OTP (BAD_OTP)")
	// ErrReplayed: an authentic answer says the OTP was used before.
	ErrReplayed = errors.New("yubiotp: the OTP was used before (REPLAYED_OTP)")
	// ErrInvalidResponse: no server gave an authentic, fresh answer in
	// time (no answer, HTTP errors, bad signatures, otp or nonce not
	// echoed). The error also wraps the context's error when the
	// deadline passed or the caller cancelled.
	ErrInvalidResponse = errors.New("yubiotp: no valid answer from the validation servers")
)

// StatusError is an authentic answer whose status is not OK. It unwraps
// to ErrBadOTP or ErrReplayed for those statuses.
type StatusError struct {
	Status string // as the server sent it, e.g. BACKEND_ERROR
	Server string // the base URL of the server that answered
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("yubiotp: validation server %s answered %s", e.Server, e.Status)
}

func (e *StatusError) Unwrap() error {
	switch e.Status {
	case StatusBadOTP:
		return ErrBadOTP
	case StatusReplayedOTP:
		return ErrReplayed
	}
	return nil
}

// Client asks validation servers about OTPs. Its fields may be set
// directly; NewClient checks them. A Client is safe for concurrent use
// once configured and must not be changed afterwards.
type Client struct {
	// ID is the client id the service issued (a decimal number).
	ID string
	// Key is the base64-decoded API key. Requests are signed and answers
	// verified with it. Empty means unsigned requests and unverified
	// answers (trusting TLS alone), which Verify refuses unless
	// AllowUnsigned is set.
	Key []byte
	// AllowUnsigned lets Verify run without Key. Not for production.
	AllowUnsigned bool
	// Servers are the verify endpoints' URLs, asked in parallel; none
	// means DefaultServer.
	Servers []string
	// HTTP is the client for the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Timeout bounds a Verify call (on top of the caller's context);
	// zero means DefaultTimeout.
	Timeout time.Duration

	nonce func() string // tests freeze it
}

// NewClient returns a Client for the client id and base64 API key the
// service issued, asking servers (none means DefaultServer). Errors name
// what is wrong without quoting the key.
func NewClient(id, base64Key string, servers []string) (*Client, error) {
	b64 := strings.TrimSpace(base64Key)
	if b64 == "" {
		return nil, errors.New("yubiotp: the API key is required (the base64 secret issued with the client id)")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("yubiotp: the API key is not valid base64 (want the secret exactly as issued, e.g. 28 characters ending in '=')")
	}
	c := &Client{ID: strings.TrimSpace(id), Key: key, Servers: append([]string(nil), servers...)}
	if _, err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// check validates the configuration and returns the servers to ask.
func (c *Client) check() ([]string, error) {
	if !validClientID(c.ID) {
		return nil, errors.New("yubiotp: the client id must be the decimal number the validation service issued (1–10 digits, not 0)")
	}
	if len(c.Key) == 0 && !c.AllowUnsigned {
		return nil, errors.New("yubiotp: no API key: refusing unsigned requests and unverifiable answers")
	}
	servers := c.Servers
	if len(servers) == 0 {
		servers = []string{DefaultServer}
	}
	seen := map[string]bool{}
	for _, s := range servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("yubiotp: server %q is not an http(s) URL", s)
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return nil, fmt.Errorf("yubiotp: server %q must have no credentials, query or fragment", s)
		}
		if seen[s] {
			return nil, fmt.Errorf("yubiotp: server %q is listed twice", s)
		}
		seen[s] = true
	}
	return servers, nil
}

func validClientID(id string) bool {
	if id == "" || len(id) > 10 || strings.Trim(id, "0") == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// Result describes an OTP a server accepted.
type Result struct {
	OTP      string // canonical: trimmed, lower case
	PublicID string // the key's public id; the caller binds it to the user
	Server   string // the base URL of the server whose answer was taken
	Time     string // the server's timestamp (t), as sent
	// The key's internal counters when the OTP was made, zero when the
	// server did not send them.
	Timestamp, SessionCounter, SessionUse int64
}

// answer is one server's reply, or why it is not one.
type answer struct {
	server string
	fields map[string]string // authentic and fresh; nil when err is set
	err    error
}

// Verify asks the servers whether otp is genuine and unused. It returns a
// Result when an authentic answer says OK; otherwise an error wrapping
// ErrMalformedOTP, ErrReplayed, ErrBadOTP or ErrInvalidResponse, or a
// *StatusError for other statuses. The other requests are cancelled as soon
// as one answer decides. Verify does not check who owns the key: compare
// Result.PublicID with the user's enrolled keys.
func (c *Client) Verify(ctx context.Context, otp string) (Result, error) {
	canon, publicID, err := parse(otp)
	if err != nil {
		return Result{}, err
	}
	servers, err := c.check()
	if err != nil {
		return Result{}, err
	}
	nonce := newNonce()
	if c.nonce != nil {
		nonce = c.nonce()
	}
	params := map[string]string{"id": c.ID, "otp": canon, "nonce": nonce, "timestamp": "1"}
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	if len(c.Key) > 0 {
		q.Set("h", sign(c.Key, params))
	}
	query := q.Encode()

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel() // also abandons the requests still running

	answers := make(chan answer, len(servers)) // every sender finds room
	for _, s := range servers {
		go func() { answers <- c.ask(ctx, s, query, canon, nonce) }()
	}

	var soft *StatusError // a status another server may still overrule
	var problems []string
	for pending := len(servers); pending > 0; pending-- {
		var a answer
		select {
		case a = <-answers:
		case <-ctx.Done():
			return Result{}, c.fail(ctx, soft, problems)
		}
		if a.err != nil {
			if ctx.Err() == nil {
				problems = append(problems, a.err.Error())
			}
			continue
		}
		switch status := a.fields["status"]; status {
		case StatusOK:
			r := Result{OTP: canon, PublicID: publicID, Server: a.server, Time: a.fields["t"]}
			r.Timestamp, _ = strconv.ParseInt(a.fields["timestamp"], 10, 64)
			r.SessionCounter, _ = strconv.ParseInt(a.fields["sessioncounter"], 10, 64)
			r.SessionUse, _ = strconv.ParseInt(a.fields["sessionuse"], 10, 64)
			return r, nil
		case StatusReplayedRequest, StatusBackendError, StatusNotEnoughAnswers:
			// REPLAYED_REQUEST: this server has our otp and nonce from a
			// peer that answered (or will answer) OK. The others are a
			// server's trouble. Wait for the rest.
			if soft == nil {
				soft = &StatusError{Status: status, Server: a.server}
			}
		default:
			return Result{}, &StatusError{Status: status, Server: a.server}
		}
	}
	return Result{}, c.fail(ctx, soft, problems)
}

// fail is Verify's error when no answer decided.
func (c *Client) fail(ctx context.Context, soft *StatusError, problems []string) error {
	if soft != nil {
		return soft
	}
	detail := ""
	if len(problems) > 0 {
		detail = ": " + strings.Join(problems, "; ")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w%s: %w", ErrInvalidResponse, detail, err)
	}
	return fmt.Errorf("%w%s", ErrInvalidResponse, detail)
}

// ask sends the request to one server and checks its answer.
func (c *Client) ask(ctx context.Context, server, query, otp, nonce string) answer {
	fail := func(format string, args ...any) answer {
		return answer{server: server, err: fmt.Errorf("%s: "+format, append([]any{server}, args...)...)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"?"+query, nil)
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("User-Agent", "rack-gateway-yubiotp")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, which holds the OTP and signature.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fail("reading the answer: %v", err)
	}
	if len(body) > maxBody {
		return fail("answer longer than %d bytes", maxBody)
	}
	fields, err := parseAnswer(body)
	if err != nil {
		return fail("%v", err)
	}
	status := fields["status"]
	if len(c.Key) > 0 && !verifyAnswer(c.Key, fields) {
		// An unauthenticated status decides nothing, but BAD_SIGNATURE
		// or NO_SUCH_CLIENT here usually means a wrong id or key.
		return fail("answer signature does not verify (it claims status %s)", quote(status))
	}
	if v, ok := fields["otp"]; (ok || status == StatusOK) && v != otp {
		return fail("answer is not about the OTP sent (status %s)", quote(status))
	}
	if v, ok := fields["nonce"]; (ok || status == StatusOK) && v != nonce {
		return fail("answer does not echo the nonce sent (status %s)", quote(status))
	}
	return answer{server: server, fields: fields}
}

// quote shows an untrusted status briefly and safely.
func quote(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return strconv.Quote(s)
}

// parseAnswer splits key=value lines (CRLF or LF), ignoring blank ones.
func parseAnswer(body []byte) (map[string]string, error) {
	fields := map[string]string{}
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok || len(k) == 0 {
			return nil, errors.New("answer is not key=value lines")
		}
		if _, dup := fields[string(k)]; dup {
			return nil, fmt.Errorf("answer repeats %s", quote(string(k)))
		}
		fields[string(k)] = string(v)
	}
	if fields["status"] == "" {
		return nil, errors.New("answer has no status")
	}
	return fields, nil
}

// verifyAnswer checks the answer's h over its other fields, in constant
// time.
func verifyAnswer(key []byte, fields map[string]string) bool {
	got, err := base64.StdEncoding.DecodeString(fields["h"])
	if err != nil || len(got) == 0 {
		return false
	}
	rest := make(map[string]string, len(fields))
	for k, v := range fields {
		if k != "h" {
			rest[k] = v
		}
	}
	return hmac.Equal(mac(key, rest), got)
}

// sign is the protocol's signature of params: base64 HMAC-SHA1 of the
// pairs sorted by key and joined as k=v&k=v, values as they are (not
// URL-encoded).
func sign(key []byte, params map[string]string) string {
	return base64.StdEncoding.EncodeToString(mac(key, params))
}

func mac(key []byte, params map[string]string) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha1.New, key)
	for i, k := range keys {
		if i > 0 {
			io.WriteString(m, "&")
		}
		io.WriteString(m, k+"="+params[k])
	}
	return m.Sum(nil)
}

// newNonce returns nonceLen random alphanumerics.
func newNonce() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, nonceLen)
	for i := range b {
		b[i] = alphabet[randIntn(len(alphabet))]
	}
	return string(b)
}

// randIntn is a uniform crypto/rand number in [0, n), n ≤ 256.
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
