// Package web serves the gateway's own HTTP surface: the rack API proxy
// mount points (/rack, /racks/<name>), health and readiness probes, metrics,
// and the JSON admin API under /api/v1. Handlers are thin: policy lives in
// authz, operations in admin, forwarding in proxy.
package web

import (
	"context"
	"crypto/subtle"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Server routes requests to the proxy, probes and the admin API.
type Server struct {
	Proxy *proxy.Handler
	Admin *admin.Service
	Authn *authn.Authenticator
	// MFA serves the second-factor API (nil: not mounted).
	MFA *mfa.Service
	// Approvals serves the deploy approval API (nil: not mounted).
	Approvals *approval.Service
	Store     store.Pinger // readiness
	Gatherer  prometheus.Gatherer
	Log       *slog.Logger
	Version   string
	// Login, if set, serves the login flows: /auth/ (browser) and
	// /api/v1/cli/login/ (the CLI's claim). Console, if set, serves the web
	// console's pages under / (it sets its own CSP).
	Login   http.Handler
	Console http.Handler
	// Clock times the readiness cache (nil: the system clock).
	Clock clock.Clock
	// ClientIP resolves callers' addresses (nil: the peer's).
	ClientIP *clientip.Resolver
	// Failures limits each address's failing admin API calls (nil: none).
	Failures *limits.FailureLimiter
	// MetricsElsewhere: /metrics is served on its own listener
	// (MetricsHandler), not here.
	MetricsElsewhere bool
	// MetricsToken, if set, is the bearer token /metrics requires.
	MetricsToken string

	mux    *http.ServeMux
	rackMu sync.Mutex
	rackOK map[string]readyCache
}

// readyCacheTTL is how long a rack's readiness answer is reused, so that
// probes cannot be used to hammer the racks.
const readyCacheTTL = 5 * time.Second

type readyCache struct {
	at  time.Time
	err error
}

// Handler returns the root handler. Rack API paths are dispatched before the
// ServeMux because ServeMux cleans paths with redirects, and the proxy must
// refuse non-canonical paths rather than reinterpret them.
func (s *Server) Handler() http.Handler {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if !s.MetricsElsewhere {
		s.mux.Handle("GET /metrics", s.MetricsHandler())
	}
	s.routesAPI()
	s.routesMFA()
	s.routesApprovals()
	if s.Login != nil {
		s.mux.Handle("/auth/", s.Login)
		s.mux.Handle("/api/v1/cli/login/", s.Login)
	}
	if s.Console != nil {
		s.mux.Handle("/", s.Console)
	} else {
		s.mux.HandleFunc("GET /{$}", s.home)
	}
	defaultRack := s.Proxy.ServeDefault("/rack")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/rack" || strings.HasPrefix(p, "/rack/"):
			defaultRack.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/racks/") && !s.consolePage(r):
			name, _, _ := strings.Cut(p[len("/racks/"):], "/")
			r.SetPathValue("rack", name)
			s.Proxy.ServeNamed(w, r)
		default:
			securityHeaders(w.Header())
			s.mux.ServeHTTP(w, r)
		}
	})
}

// MetricsHandler serves the Prometheus metrics, behind MetricsToken when it
// is set.
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{})
	if s.MetricsToken == "" {
		return h
	}
	want := []byte("Bearer " + s.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rack-gateway metrics"`)
			http.Error(w, "metrics need the bearer token (metrics_token_file)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz reports ready when the database answers and every rack answers its
// unauthenticated /check. Rack results are cached for a few seconds so probes
// cannot be used to hammer the racks.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var problems []string
	if err := s.Store.Ping(ctx); err != nil {
		problems = append(problems, "database: unavailable")
	}
	for name, up := range s.Proxy.Upstreams() {
		if err := s.checkRack(ctx, name, up); err != nil {
			problems = append(problems, "rack "+name+": "+err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Join(problems, "\n") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) checkRack(ctx context.Context, name string, up *proxy.Upstream) error {
	s.rackMu.Lock()
	if s.rackOK == nil {
		s.rackOK = map[string]readyCache{}
	}
	c, ok := s.rackOK[name]
	s.rackMu.Unlock()
	now := clock.Or(s.Clock).Now()
	if ok && now.Sub(c.at) < readyCacheTTL {
		return c.err
	}
	err := up.Check(ctx)
	s.rackMu.Lock()
	s.rackOK[name] = readyCache{at: now, err: err}
	s.rackMu.Unlock()
	return err
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("rack-gateway " + s.Version + "\n\n" +
		"Point the convox CLI at this gateway:\n" +
		"  RACK_URL=https://convox:<api token>@<this host>/rack convox apps\n" +
		"Admin API: /api/v1 (Bearer or Basic API token)\n"))
}
