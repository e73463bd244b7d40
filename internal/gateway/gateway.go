// Package gateway assembles the parts — store, authenticator, auditor,
// proxy, web — into a running server with graceful shutdown. Reading this
// file shows where a request is authenticated (authn), authorized (authz,
// via proxy.Handler), audited (audit) and forwarded (proxy).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/notify"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/trail"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
	"github.com/rack-gateway/rack-gateway/internal/web/login"
)

// Version is set at build time with -ldflags "-X ...gateway.Version=v1.2.3".
var Version = "dev"

// Gateway is an assembled, not yet listening, gateway.
type Gateway struct {
	Config *config.Config
	Store  store.Store
	Authn  *authn.Authenticator
	Audit  *audit.Auditor
	// Policy is the one access policy every decision goes through.
	Policy *authz.Policy
	// Failures limits each address's failing requests (rate limits).
	Failures *limits.FailureLimiter
	Proxy    *proxy.Handler
	Admin    *admin.Service
	// MFA proves and manages people's second factors.
	MFA *mfa.Service
	// Approvals is the deploy approval service (two-person rule for CI).
	Approvals *approval.Service
	// Publisher queues notifications; Notifier delivers them.
	Publisher *notify.Publisher
	Notifier  *notify.Worker
	// Trail holds the audit signing key, HMAC key and anchor store;
	// Checkpoints signs and anchors the chain; Verifier checks it on a
	// schedule.
	Trail       *trail.Trail
	Checkpoints *checkpoint.Runner
	Verifier    *SelfCheck
	sinks       []interface{ Close(context.Context) error }
	// Web is the HTTP surface behind Handler.
	Web     *web.Server
	Handler http.Handler
	Log     *slog.Logger

	startOnce   sync.Once
	stopWorkers context.CancelFunc
	workers     sync.WaitGroup
}

// New assembles a gateway on an open, migrated store. cfg must be validated.
// ctx bounds what New does on the network: the anchor bucket's check and
// the OIDC provider's discovery.
func New(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g := &Gateway{Config: cfg, Store: st, Log: log}
	g.Authn = authn.New(st, cfg.TokenCacheTTL.D(), log)
	g.Authn.SetSessionPolicy(authn.SessionPolicy{WebIdle: cfg.Sessions.WebIdle.D(), WebAbsolute: cfg.Sessions.WebAbsolute.D(),
		CLIIdle: cfg.Sessions.CLIIdle.D(), CLIAbsolute: cfg.Sessions.CLIAbsolute.D()})
	g.Audit = audit.New(st, log, reg, audit.WithQueueSize(cfg.Audit.QueueSize))
	a := cfg.Audit
	tr, err := trail.Open(ctx, TrailConfig(a), trail.Options{CreateKeys: a.CreateKeys, NeedSigner: true, NeedHMAC: true, NeedAnchors: true})
	if err != nil {
		return nil, err
	}
	g.Trail = tr
	if a.AnchorDir != "" {
		log.Warn("audit anchors go to a local directory, which is NOT write-once storage; use an S3 bucket with Object Lock in production", "dir", a.AnchorDir)
	}
	g.Checkpoints = &checkpoint.Runner{Store: st, Signer: tr.Signer, Anchors: tr.Anchors,
		Every: a.CheckpointEvery, Interval: a.CheckpointInterval.D(), Log: log}
	reg.MustRegister(g.Checkpoints.Collectors()...)
	g.Verifier = &SelfCheck{Store: st, Trail: tr, Audit: g.Audit, Log: log}
	if a.VerifyInterval != nil {
		g.Verifier.Interval = a.VerifyInterval.D()
	}
	reg.MustRegister(g.Verifier.Collectors()...)
	if err := g.addSinks(reg); err != nil {
		return nil, err
	}
	// Step-up and approval requirements are data in authz; the
	// configuration puts MFA and the approval rules in force.
	g.Policy = policyFor(cfg)
	g.MFA, err = newMFA(cfg, st, g.Audit, g.Policy, g.Authn, log)
	if err != nil {
		return nil, err
	}
	// Notifications: durable jobs in the store, delivered by a worker on
	// every replica (Start runs it).
	g.Notifier, err = notify.NewWorker(cfg.Notify, notify.WorkerOptions{Jobs: st, Recorder: g.Audit, Log: log})
	if err != nil {
		return nil, err
	}
	g.Publisher = notify.NewPublisher(cfg.Notify, st, notify.PublisherOptions{Log: log, Wake: g.Notifier.Wake})
	tell := securityNotifier(g.Publisher, cfg.PublicURL, log)
	g.MFA.SetNotify(tell)
	g.Approvals, err = newApprovals(cfg, st, g.Audit, g.Policy, g.Publisher, log)
	if err != nil {
		return nil, err
	}
	hk := tr.HMACKey
	ips, err := clientip.New(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	g.Failures = limits.NewFailureLimiter(cfg.Limits.FailuresPerMinute, cfg.Limits.FailureBurst, nil)
	p, err := proxy.New(proxy.Options{Config: cfg, Authn: g.Authn, Policy: g.Policy, Audit: g.Audit, ClientIP: ips,
		Failures: g.Failures, MFA: g.MFA, Approvals: g.Approvals,
		Metrics: proxy.NewMetrics(reg), Logger: log,
		ValueHash: func(name, value string) string { return audit.ValueHash(hk, name, value) }})
	if err != nil {
		return nil, err
	}
	g.Proxy = p
	g.Approvals.SetBuildReader(p)
	g.Admin = &admin.Service{Store: st, Audit: g.Audit, Authn: g.Authn, Policy: g.Policy, Notify: tell}
	racks := []string{cfg.DefaultRack}
	for _, rc := range cfg.Racks {
		if rc.Name != cfg.DefaultRack {
			racks = append(racks, rc.Name)
		}
	}
	secure := strings.HasPrefix(cfg.PublicURL, "https://")
	con, err := console.New(console.Options{Admin: g.Admin, Authn: g.Authn, Policy: g.Policy, MFA: g.MFA, Approvals: g.Approvals,
		TrustDays: max(cfg.MFA.TrustedDeviceDays, 0), ClientIP: ips, Proxy: p, Racks: racks,
		Secure: secure, PublicURL: cfg.PublicURL, Version: Version, Log: log,
		AuditStore: st, AuditKey: tr.PublicKey, Anchors: tr.Anchors, Status: g.status})
	if err != nil {
		return nil, err
	}
	srv := &web.Server{Proxy: p, Admin: g.Admin, Authn: g.Authn, MFA: g.MFA, Approvals: g.Approvals, Store: st, Gatherer: reg, Log: log, ClientIP: ips,
		Failures: g.Failures, MetricsElsewhere: cfg.MetricsAddr != "", MetricsToken: cfg.MetricsToken,
		Version: Version}
	if cfg.OIDC.Issuer != "" { // the console needs a way to sign in
		srv.Console = con
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		lh, err := login.New(dctx, login.Options{PublicURL: cfg.PublicURL, OIDC: cfg.OIDC, Store: st,
			Authn: g.Authn, Audit: g.Audit, Log: log, SourceIP: ips.IP, ProviderName: cfg.OIDC.ProviderName,
			Starts:       limits.NewFailureLimiter(cfg.Limits.FailuresPerMinute, cfg.Limits.FailureBurst, nil),
			SecondFactor: cfg.MFA.IsRequired()})
		if err != nil {
			return nil, err
		}
		srv.Login = lh
	}
	g.Web = srv
	g.Handler = srv.Handler()
	return g, nil
}

// Start begins the background workers (audit writer, last-used flusher);
// Serve calls it, and callers that write through the gateway's services
// before serving (dev mode's demo users) call it first. Serve stops them.
func (g *Gateway) Start() {
	g.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		g.stopWorkers = cancel
		go g.Audit.Run()
		go g.Authn.RunLastUsedFlusher(ctx, flushInterval(g.Config.Sessions))
		// Open streams are decided again on a schedule (revocations on
		// other replicas) and at once after a change made here.
		g.Authn.OnInvalidate(g.Proxy.Kick)
		go g.Proxy.RunStreamRechecks(ctx, g.Config.StreamRecheckInterval.D())
		go g.Proxy.RunRateLimitReports(ctx, time.Minute)
		go g.runApprovalSweeps(ctx, g.Config.Approvals.SweepInterval.D())
		g.workers.Add(1)
		go func() { defer g.workers.Done(); g.Notifier.Run(ctx) }()
		g.workers.Add(2)
		go func() { defer g.workers.Done(); g.Checkpoints.Run(ctx) }()
		go func() { defer g.workers.Done(); g.Verifier.Run(ctx) }()
	})
}

// Stop ends the background workers started by Start (Serve does this
// itself) and waits for them; the caller closes the auditor and the store.
func (g *Gateway) Stop() {
	if g.stopWorkers != nil {
		g.stopWorkers()
	}
	g.workers.Wait()
}

// Serve listens on ln until ctx is cancelled, then shuts down gracefully:
// stop accepting, drain in-flight requests and websocket streams for up to
// ShutdownTimeout, then cut what remains and flush the audit queue.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	g.Start()
	defer g.stopWorkers()

	ln = g.limitConns(ln)
	base, cutStreams := context.WithCancel(context.Background())
	defer cutStreams()
	hs := &http.Server{
		Handler:           g.Handler,
		ReadHeaderTimeout: g.Config.ReadHeaderTimeout.D(),
		IdleTimeout:       g.Config.IdleTimeout.D(),
		MaxHeaderBytes:    g.Config.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       clientip.ConnContext,
		ErrorLog:          slog.NewLogLogger(g.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	if g.Config.MetricsAddr != "" {
		ms, err := g.serveMetrics(g.Config.MetricsAddr, errc)
		if err != nil {
			return err
		}
		defer ms.Close()
	}
	go func() {
		var err error
		if g.Config.TLSCertFile != "" {
			err = hs.ServeTLS(ln, g.Config.TLSCertFile, g.Config.TLSKeyFile)
		} else {
			err = hs.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.Log.Info("shutting down: draining requests and streams", "timeout", g.Config.ShutdownTimeout.D().String())
	sctx, cancel := context.WithTimeout(context.Background(), g.Config.ShutdownTimeout.D())
	defer cancel()
	err := hs.Shutdown(sctx)
	if werr := g.Proxy.WaitStreams(sctx); werr != nil {
		g.Log.Warn("streams still open at shutdown deadline; closing them")
	}
	cutStreams()
	g.stopWorkers()
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if aerr := g.Audit.Close(actx); aerr != nil {
		g.Log.Error("audit queue not fully flushed at shutdown", "err", aerr)
	}
	// A last checkpoint covers the events written while draining.
	g.Checkpoints.Tick(actx, true) //nolint:errcheck // logged by the runner; best effort at exit
	g.workers.Wait()
	for _, s := range g.sinks {
		if serr := s.Close(actx); serr != nil {
			g.Log.Warn("audit stream not fully delivered at shutdown", "err", serr)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// flushInterval writes last-used and last-seen times often enough that
// other replicas see activity well within the shortest idle timeout.
func flushInterval(s config.Sessions) time.Duration {
	d := 30 * time.Second
	for _, idle := range []time.Duration{s.WebIdle.D(), s.CLIIdle.D()} {
		if idle > 0 && idle/4 < d {
			d = max(idle/4, 100*time.Millisecond)
		}
	}
	return d
}

// limitConns caps the listener's open connections, in all and per peer
// address; the trusted proxies count towards the total only.
func (g *Gateway) limitConns(ln net.Listener) net.Listener {
	l := &limits.Listener{Listener: ln, Total: g.Config.Limits.MaxConns, PerAddr: g.Config.Limits.MaxConnsPerIP}
	for _, p := range g.Config.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			l.Exempt = append(l.Exempt, pfx)
		}
	}
	return l
}

// serveMetrics serves /metrics alone on its own listener (metrics_addr),
// for a scraper on a network the gateway's users cannot reach.
func (g *Gateway) serveMetrics(addr string, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", g.Web.MetricsHandler())
	ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(g.Log.Handler(), slog.LevelWarn)}
	go func() {
		if err := ms.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	return ms, nil
}
