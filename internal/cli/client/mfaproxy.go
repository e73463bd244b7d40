package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// maxRetryBody is the largest request body kept for a retry with a second
// factor. Calls that need one (exec, run, env set, build create, promote,
// app delete, rack update, ...) carry small forms; a build's source upload
// (object write) needs none.
const maxRetryBody = 1 << 20

// mfaProxy stands between the convox CLI and the gateway, on loopback, for
// `rack-gateway convox`: it passes every call through unchanged (the
// convox CLI's own credentials included) and, when the gateway answers
// that a call needs a second factor, asks the person for a code and sends
// the call once more with it (apitypes.HeaderMFACode). Websocket upgrades
// are retried the same way before any frame is exchanged.
type mfaProxy struct {
	gateway *url.URL
	prompt  *prompter
	next    http.RoundTripper

	mu         sync.Mutex
	verifiedAt time.Time       // the last code the gateway accepted
	noted      map[string]bool // notices already shown
}

// startMFAProxy listens on loopback and returns the base URL convox should
// use (scheme and host; the path stays the gateway's) and a stop func.
func startMFAProxy(gw *url.URL, p *prompter) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	m := &mfaProxy{gateway: gw, prompt: p, next: clientTransport()}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(m.gateway)
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath // convox's path is the gateway's
			if pr.Out.Header.Get("Origin") != "" {
				pr.Out.Header.Set("Origin", m.gateway.Scheme+"://"+m.gateway.Host)
			}
			pr.Out.Header.Del(apitypes.HeaderMFACode)
		},
		Transport:     m,
		FlushInterval: -1, // logs and build output stream
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// clientTransport is the transport to gateways (the API client's).
func clientTransport() http.RoundTripper {
	if clientHTTP.Transport != nil {
		return clientHTTP.Transport
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}

// RoundTrip sends the call and, if it needs a second factor, retries it
// once with a code.
func (m *mfaProxy) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.roundTrip(req)
	if err == nil {
		m.note(resp.Header.Get(apitypes.HeaderNotice))
	}
	return resp, err
}

// note prints the gateway's notice (apitypes.HeaderNotice) on stderr, once
// per distinct text, so convox's own output stays as it is.
func (m *mfaProxy) note(n string) {
	if n == "" {
		return
	}
	if len(n) > 300 {
		n = n[:300]
	}
	n = cmdutil.Printable(n)
	m.mu.Lock()
	seen := m.noted[n]
	if m.noted == nil {
		m.noted = map[string]bool{}
	}
	m.noted[n] = true
	m.mu.Unlock()
	if !seen {
		fmt.Fprintf(m.prompt.e.Stderr, "rack-gateway: note: %s\n", n)
	}
}

func (m *mfaProxy) roundTrip(req *http.Request) (*http.Response, error) {
	body, retryable, err := keepBody(req)
	if err != nil {
		return nil, err
	}
	resp, err := m.next.RoundTrip(req)
	if err != nil || !retryable || resp.StatusCode != http.StatusForbidden {
		return resp, err
	}
	level := resp.Header.Get(apitypes.HeaderMFARequired)
	if level == "" || level == apitypes.MFALevelEnrol {
		return resp, nil
	}
	msg := refusalMessage(resp)
	retry := req.Clone(req.Context())
	if body != nil {
		retry.Body = io.NopCloser(bytes.NewReader(body))
	}
	// A code accepted a moment ago opened the window: calls that only
	// need a recent factor go again without asking.
	if level == "recent" && m.justVerified() {
		return m.next.RoundTrip(retry)
	}
	code, perr := m.prompt.code(level, msg)
	if perr != nil {
		return nil, perr
	}
	retry.Header.Set(apitypes.HeaderMFACode, code)
	resp, err = m.next.RoundTrip(retry)
	if err == nil && resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		m.mu.Lock()
		m.verifiedAt = time.Now()
		m.mu.Unlock()
	}
	return resp, err
}

func (m *mfaProxy) justVerified() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.verifiedAt.IsZero() && time.Since(m.verifiedAt) < time.Minute
}

// keepBody reads a small request body so that the call can be sent again;
// a large or unknown-length body streams through once (retryable false).
func keepBody(req *http.Request) ([]byte, bool, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true, nil
	}
	if req.ContentLength < 0 || req.ContentLength > maxRetryBody {
		return nil, false, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxRetryBody+1))
	req.Body.Close()
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > maxRetryBody {
		return nil, false, errors.New("request body larger than announced")
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, true, nil
}

// refusalMessage reads the refusal's one-line message and closes it.
func refusalMessage(resp *http.Response) string {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	return decodeGatewayError(resp.StatusCode, data).Msg
}
