package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// benchGET sends authorized GET requests in parallel to url, expecting
// status want.
func benchGET(b *testing.B, url, auth string, want int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", auth)
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
	u, _ := url.Parse(e.rackSrv.URL)
	up := e.gw.Proxy.Upstreams()["dev"]
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.SetBasicAuth("convox", e.rackPassword)
		},
		Transport: up.Transport,
	}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	benchGET(b, srv.URL+"/apps", basic("x"), http.StatusOK)
}

// BenchmarkGatewayDenied measures a refusal (audited, never forwarded).
func BenchmarkGatewayDenied(b *testing.B) {
	e := newEnv(b)
	benchGET(b, e.srv.URL+"/rack/registries", basic(e.tokens[authz.RoleViewer]), http.StatusForbidden)
}
