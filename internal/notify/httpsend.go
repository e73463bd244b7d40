package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter bounds how long a receiver may ask us to wait.
const maxRetryAfter = 24 * time.Hour

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// userAgent is sent with every HTTP delivery.
const userAgent = "rack-gateway-notify/1"

// NewHTTPClient returns the HTTP client deliveries use by default: it
// never follows redirects (a redirect would re-send a signed body or a
// message somewhere the configuration did not name; it fails the attempt
// instead) and gives up on a receiver after timeout.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// postJSON POSTs body to url with the headers at now and returns the answer's
// status and (at most maxAnswer bytes of) body. A 2xx answer is a
// success; any other is an error of the status, with the Retry-After of a
// 429 or 503.
func postJSON(ctx context.Context, hc *http.Client, url string, header http.Header, body []byte, now time.Time) (outcome, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{Err: err}, nil
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return outcome{Err: err}, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	o := outcome{HTTPStatus: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return o, answer
	}
	o.Err = fmt.Errorf("HTTP %d", resp.StatusCode)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		o.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	}
	return o, answer
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 if
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// shortCode is a receiver's answer in a few safe characters (Slack's
// error codes such as "invalid_payload"), or "" if it is anything else.
func shortCode(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return s
}

// withCode adds a receiver's short error code to o's error.
func withCode(o outcome, code string) outcome {
	if o.Err != nil && code != "" {
		o.Err = fmt.Errorf("%w: %s", o.Err, code)
	}
	return o
}

// errNoAnswer is a success status with an answer that is not one.
var errNoAnswer = errors.New("unexpected answer")
