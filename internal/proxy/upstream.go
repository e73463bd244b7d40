// Package proxy forwards authorized rack API calls to the rack: it strips
// client credentials, injects the rack password, names the actor, relays
// websockets byte for byte and streams bodies, and filters secret-bearing
// responses for callers without the right to see them.
package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// Upstream is one rack behind the gateway.
type Upstream struct {
	Name      string
	URL       *url.URL
	Transport *http.Transport
	proxy     *httputil.ReverseProxy
	headers   *headerWatch // the handler's, for the gateway's own lookups
	auth      string       // "Basic base64(convox:<password>)"; never logged
}

// NewUpstream builds the transport and reverse proxy for a validated rack
// config. The transport is tuned for many small calls to one host: a large
// idle pool, no transparent compression (the client's Accept-Encoding passes
// through), HTTP/1.1 only as the rack speaks.
func NewUpstream(rc config.Rack, h *Handler) (*Upstream, error) {
	u, err := url.Parse(rc.URL)
	if err != nil {
		return nil, err
	}
	tlsConf, err := tlsConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("rack %s: %w", rc.Name, err)
	}
	tr := &http.Transport{
		Proxy:                 nil, // the rack is reached directly, never via HTTP(S)_PROXY
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// No ResponseHeaderTimeout: Handler.headers bounds the wait for
		// the rack's headers without a timer per call (headerwatch.go).
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		TLSNextProto:       map[string]func(string, *tls.Conn) http.RoundTripper{},
		WriteBufferSize:    128 << 10, // large request-body writes: fewer syscalls on uploads
		ReadBufferSize:     32 << 10,
	}
	up := &Upstream{
		Name:      rc.Name,
		URL:       u,
		Transport: tr,
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+rc.Password)),
		headers:   h.headers,
	}
	up.proxy = &httputil.ReverseProxy{
		Rewrite:        up.rewrite,
		Transport:      tr,
		BufferPool:     bufferPool{},
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.proxyError,
		ErrorLog:       nil,
	}
	return up, nil
}

// rewrite prepares the outbound request. Client credentials and the client's
// actor headers never reach the rack.
func (up *Upstream) rewrite(pr *httputil.ProxyRequest) {
	c := callFrom(pr.In.Context())
	pr.SetURL(up.URL)
	pr.Out.Host = up.URL.Host
	h := pr.Out.Header
	stripClientHeaders(h)
	h["Authorization"] = []string{up.auth}
	if c == nil {
		pr.SetXForwarded()
		return
	}
	h["X-Convox-Actor"] = []string{c.actor}
	// The rack learns the caller's address as the gateway resolved it
	// (through trusted proxies only), never a client-supplied chain.
	h["X-Forwarded-For"] = []string{c.ev.SourceIP}
	if c.websocket {
		// The rack's websocket upgrader rejects an Origin whose host
		// differs from Host; the client's Origin named the gateway.
		h["Origin"] = []string{up.URL.Scheme + "://" + up.URL.Host}
		h["Upgrade"] = []string{"websocket"}
	} else {
		// Only routes the table marks as websockets may switch
		// protocols; any other upgrade request is sent as plain HTTP.
		delete(h, "Upgrade")
		delete(h, "Connection")
	}
	if c.filterActive {
		// Filtered responses are rewritten, so ask for identity encoding.
		delete(h, "Accept-Encoding")
	}
}

// tlsConfig verifies the rack's certificate against the system roots, a
// pinned CA bundle, or a pinned leaf certificate hash.
func tlsConfig(rc config.Rack) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if rc.CAFile != "" {
		pem, err := os.ReadFile(rc.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("ca_file holds no PEM certificates")
		}
		c.RootCAs = pool
	}
	pin, setting, ofKey := rc.PinSHA256, "pin_sha256", false
	if rc.PinPublicKeySHA256 != "" {
		pin, setting, ofKey = rc.PinPublicKeySHA256, "pin_pubkey_sha256", true
	}
	if pin != "" {
		want, err := hex.DecodeString(strings.ReplaceAll(pin, ":", ""))
		if err != nil || len(want) != sha256.Size {
			return nil, errors.New(setting + " must be 64 hex digits")
		}
		// The pin replaces chain verification: a rack's API certificate is
		// commonly self-signed, and the pin is stronger than any CA.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("rack presented no certificate")
			}
			leaf := cs.PeerCertificates[0]
			der := leaf.Raw
			if ofKey {
				der = leaf.RawSubjectPublicKeyInfo
			}
			got := sha256.Sum256(der)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return errors.New("rack certificate does not match " + setting)
			}
			return nil
		}
	}
	return c, nil
}

// bufferPool reuses 32 KiB copy buffers across proxied bodies.
type bufferPool struct{}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(bufPool.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { bufPool.Put(&b) }

// get performs a GET against the rack with the rack's credentials, for the
// gateway's own lookups (e.g. the current env when guarding an env change).
func (up *Upstream) get(r *http.Request, path string) ([]byte, int, error) {
	u := *up.URL
	u.Path = path
	ctx, watch := up.headers.watch(r.Context(), false)
	defer watch.release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", up.auth)
	req.Header.Set("Accept", "application/json")
	resp, err := up.Transport.RoundTrip(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errRackTimeout) {
			return nil, 0, errRackTimeout
		}
		return nil, 0, err
	}
	watch.headers()
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(nil, resp.Body, maxFilteredBody)); err != nil {
		return nil, resp.StatusCode, err
	}
	return buf.Bytes(), resp.StatusCode, nil
}

// Check asks the rack whether it is up (its unauthenticated /check) and
// whether it takes the gateway's rack password (the authenticated /auth,
// which the convox CLI's login also calls).
func (up *Upstream) Check(ctx context.Context) error {
	status, err := up.probe(ctx, "/check", false)
	if err != nil {
		return errors.New("unreachable")
	}
	if status != http.StatusOK {
		return fmt.Errorf("check answered %d", status)
	}
	status, err = up.probe(ctx, "/auth", true)
	switch {
	case err != nil:
		return errors.New("unreachable")
	case status == http.StatusUnauthorized:
		return errors.New("the rack refuses the gateway's rack password (check this rack's password in the configuration)")
	case status != http.StatusOK:
		return fmt.Errorf("auth answered %d", status)
	}
	return nil
}

func (up *Upstream) probe(ctx context.Context, path string, withAuth bool) (int, error) {
	u := *up.URL
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	if withAuth {
		req.Header.Set("Authorization", up.auth)
	}
	resp, err := up.Transport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, nil
}
