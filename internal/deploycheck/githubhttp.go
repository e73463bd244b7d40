package deploycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds on what is read from GitHub. A commit or a comparison can carry
// hundreds of files with patches, so those are scanned as a stream for the
// few fields needed and never held whole.
const (
	maxScanBody  = 16 << 20 // commit and compare: read at most this far for the fields needed
	maxPullsBody = 8 << 20  // one page of 100 pull requests
	maxSmallBody = 1 << 20  // a branch
	maxErrorBody = 64 << 10 // an error answer
)

// ErrRateLimited is wrapped by the error of a check GitHub refused because
// the token's rate limit (primary or secondary) is exhausted.
var ErrRateLimited = errors.New("deploycheck: GitHub API rate limit exhausted")

// APIError is an answer from GitHub that the check could not use: bad
// credentials, a rate limit, a server error, or a status the endpoint should
// not give. It unwraps to ErrRateLimited when the rate limit is the cause.
type APIError struct {
	Status      int       // the HTTP status
	Message     string    // GitHub's "message", if any (untrusted text, at most 200 bytes)
	Endpoint    string    // the request path, e.g. /repos/o/r/commits/<sha>
	RateLimited bool      // 403 with x-ratelimit-remaining: 0 or Retry-After, or 429
	Reset       time.Time // x-ratelimit-reset, when given
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("deploycheck: GitHub answered %d to GET %s", e.Status, e.Endpoint)
	if e.RateLimited {
		s += " (rate limit exhausted"
		if !e.Reset.IsZero() {
			s += ", resets at " + e.Reset.UTC().Format(time.RFC3339)
		}
		s += ")"
	}
	if e.Message != "" {
		s += ": " + strconv.Quote(e.Message)
	}
	return s
}

func (e *APIError) Unwrap() error {
	if e.RateLimited {
		return ErrRateLimited
	}
	return nil
}

// get sends one GET of path (escaped, with any query) and returns the
// response when its status is one of ok; other statuses become an
// *APIError, with the body closed.
func (g *GitHub) get(ctx context.Context, path string, ok ...int) (*http.Response, error) {
	base, err := g.base()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base + path)
	if err != nil {
		return nil, fmt.Errorf("deploycheck: building the GitHub URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("deploycheck: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "rack-gateway-deploycheck")
	client := g.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deploycheck: GitHub request failed: %w", err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, apiError(resp, endpointOf(path))
}

func endpointOf(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

func apiError(resp *http.Response, endpoint string) *APIError {
	e := &APIError{Status: resp.StatusCode, Endpoint: endpoint}
	var body struct {
		Message string `json:"message"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&body) == nil {
		e.Message = body.Message
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	h := resp.Header
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		e.RateLimited = true
	case http.StatusForbidden:
		e.RateLimited = h.Get("X-Ratelimit-Remaining") == "0" || h.Get("Retry-After") != ""
	}
	if n, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil && n > 0 {
		e.Reset = time.Unix(n, 0)
	}
	return e
}

// base returns the configured base URL without its trailing slash, after
// checking that it is an absolute http(s) URL without query or fragment.
func (g *GitHub) base() (string, error) {
	b := g.BaseURL
	if b == "" {
		b = DefaultGitHubURL
	}
	u, err := url.Parse(b)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", invalid("GitHub base URL %q is not an absolute http(s) URL without credentials, query or fragment", b)
	}
	return strings.TrimRight(b, "/"), nil
}

// scanObject reads the JSON object in r as a stream and decodes the values
// of the top-level keys in fields into their pointers, stopping as soon as
// all are found; other values are skipped token by token, so a large
// "files" array is never held. It fails if r ends (or hits its bound)
// before every key was seen.
func scanObject(r io.Reader, fields map[string]any) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("deploycheck: GitHub answer is not a JSON object")
	}
	left := len(fields)
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("deploycheck: reading GitHub answer: %w", err)
		}
		key, _ := t.(string)
		if dst, ok := fields[key]; ok && !seen[key] {
			if err := dec.Decode(dst); err != nil {
				return fmt.Errorf("deploycheck: GitHub answer field %q: %w", key, err)
			}
			seen[key] = true
			if left--; left == 0 {
				return nil
			}
			continue
		}
		if err := skipValue(dec); err != nil {
			return fmt.Errorf("deploycheck: reading GitHub answer: %w", err)
		}
	}
	return fmt.Errorf("deploycheck: GitHub answer lacks a field it should have")
}

// skipValue consumes one JSON value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
