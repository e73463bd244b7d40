package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// benchGET sends authorized GET requests in parallel to url, expecting
// status want.
func benchGET(b *testing.B, url, auth string, want int) {
	benchCall(b, "GET", url, auth, "", "", want)
}

// benchCall sends authorized requests with body (of type ctype) in
// parallel to url, expecting status want.
func benchCall(b *testing.B, method, url, auth, ctype, body string, want int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, _ := http.NewRequest(method, url, rd)
			req.Header.Set("Authorization", auth)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkGatewayGET measures a small authorized GET through the whole
// gateway pipeline (auth, policy, audit, metrics, proxy) in process.
func BenchmarkGatewayGET(b *testing.B) {
	e := newEnv(b)
	benchGET(b, e.srv.URL+"/rack/apps", basic(e.tokens[authz.RoleViewer]), http.StatusOK)
}

// BenchmarkBareProxyGET is the reference: a bare ReverseProxy with the same
// tuned transport in front of the same rack.
func BenchmarkBareProxyGET(b *testing.B) {
	e := newEnv(b)
	srv := httptest.NewServer(bareProxy(e))
	defer srv.Close()
	benchGET(b, srv.URL+"/apps", basic("x"), http.StatusOK)
}

// bareProxy is a ReverseProxy with the gateway's tuned transport in front
// of e's rack, injecting the rack password and nothing else.
func bareProxy(e *testEnv) *httputil.ReverseProxy {
	u, _ := url.Parse(e.rackSrv.URL)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.SetBasicAuth("convox", e.rackPassword)
		},
		Transport: e.gw.Proxy.Upstreams()["dev"].Transport,
	}
}

// BenchmarkGatewayDenied measures a refusal (audited, never forwarded).
func BenchmarkGatewayDenied(b *testing.B) {
	e := newEnv(b)
	benchGET(b, e.srv.URL+"/rack/registries", basic(e.tokens[authz.RoleViewer]), http.StatusForbidden)
}

// BenchmarkGatewayPOST measures a mutating call through the whole gateway:
// POST /apps/myapp/releases as a deployer, its write-ahead attempt
// committed to SQLite (group commit across the 8×GOMAXPROCS callers)
// before it is forwarded, its outcome batched after.
func BenchmarkGatewayPOST(b *testing.B) {
	e := newEnv(b)
	benchCall(b, "POST", e.srv.URL+"/rack/apps/myapp/releases", basic(e.tokens[authz.RoleDeployer]),
		"application/x-www-form-urlencoded", "build=BMYAPPSECND", http.StatusOK)
}

// BenchmarkBareProxyPOST is BenchmarkGatewayPOST's reference: the same call
// through a bare ReverseProxy.
func BenchmarkBareProxyPOST(b *testing.B) {
	e := newEnv(b)
	srv := httptest.NewServer(bareProxy(e))
	defer srv.Close()
	benchCall(b, "POST", srv.URL+"/apps/myapp/releases", basic("x"),
		"application/x-www-form-urlencoded", "build=BMYAPPSECND", http.StatusOK)
}
