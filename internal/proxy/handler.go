package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clientip"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/routes"
	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

// Handler is the pipeline every rack call goes through (pipeline.go lists
// its stages in order), then forwards the call to the rack and audits the
// outcome (forward.go).
type Handler struct {
	racks       map[string]*Upstream
	defaultRack string
	authn       *authn.Authenticator
	policy      *authz.Policy
	audit       *audit.Auditor
	secrets     *secrets.Classifier
	matcher     *routes.Matcher
	metrics     *Metrics
	log         *slog.Logger
	valueHash   func(name, value string) string
	clientIP    *clientip.Resolver
	failures    *limits.FailureLimiter
	publicHost  string // host of the configured public URL, for the cross-site check
	mfa         MFAVerifier
	approvals   *approval.Service
	stages      []stage

	headers *headerWatch // bounds the wait for the rack's headers (RequestTimeout)

	streams sync.WaitGroup // websockets in flight, for graceful shutdown
	live    liveStreams    // streams re-decided while they run (streams.go)
	kick    chan struct{}  // asks RunStreamRechecks for a recheck now
}

// Options configure a Handler.
type Options struct {
	Config *config.Config
	Authn  *authn.Authenticator
	// Policy decides every call; nil enforces roles and token scopes only
	// (the zero authz.Policy).
	Policy  *authz.Policy
	Audit   *audit.Auditor
	Metrics *Metrics
	Logger  *slog.Logger
	// ValueHash, if set, records keyed hashes of env values that a call
	// sets (audit.ValueHash with the audit HMAC key).
	ValueHash func(name, value string) string
	// ClientIP resolves callers' addresses; nil builds one from
	// Config.TrustedProxies.
	ClientIP *clientip.Resolver
	// Failures limits each address's failing calls without a good
	// credential; nil limits nothing.
	Failures *limits.FailureLimiter
	// MFA verifies second-factor codes sent with calls that need one; nil
	// refuses such calls with the level needed and verifies nothing.
	MFA MFAVerifier
	// Approvals judges deploy steps of CI tokens that need a person's
	// approval; nil refuses them all.
	Approvals *approval.Service
}

// New builds the handler and one upstream per configured rack.
func New(o Options) (*Handler, error) {
	h := &Handler{
		racks:       map[string]*Upstream{},
		defaultRack: o.Config.DefaultRack,
		authn:       o.Authn,
		policy:      o.Policy,
		audit:       o.Audit,
		secrets:     secrets.NewClassifier(o.Config.SecretEnvPatterns, o.Config.ProtectedEnvKeys),
		matcher:     routes.Default(),
		metrics:     o.Metrics,
		log:         o.Logger,
		valueHash:   o.ValueHash,
		clientIP:    o.ClientIP,
		failures:    o.Failures,
		mfa:         o.MFA,
		approvals:   o.Approvals,

		headers: newHeaderWatch(o.Config.RequestTimeout.D()),
		kick:    make(chan struct{}, 1),
	}
	if h.policy == nil {
		h.policy = &authz.Policy{}
	}
	if u, err := url.Parse(o.Config.PublicURL); err == nil {
		h.publicHost = u.Host
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if err := checkGuards(routes.Table()); err != nil {
		return nil, err
	}
	h.stages = h.pipeline()
	if h.clientIP == nil {
		r, err := clientip.New(o.Config.TrustedProxies)
		if err != nil {
			return nil, err
		}
		h.clientIP = r
	}
	for _, rc := range o.Config.Racks {
		up, err := NewUpstream(rc, h)
		if err != nil {
			return nil, err
		}
		h.racks[rc.Name] = up
	}
	return h, nil
}

// Upstreams returns the configured racks by name.
func (h *Handler) Upstreams() map[string]*Upstream { return h.racks }

// WaitStreams waits for in-flight websockets to end, or ctx.
func (h *Handler) WaitStreams(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.streams.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeDefault serves the default rack under prefix (e.g. "/rack").
func (h *Handler) ServeDefault(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, h.defaultRack, prefix)
	})
}

// ServeNamed serves /racks/{rack}/... .
func (h *Handler) ServeNamed(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rack")
	h.serve(w, r, name, "/racks/"+name)
}

// serve runs a call through the pipeline's stages in order; the first
// refusal ends it. A call that every stage let through is forwarded, and
// only if the policy's decision allows it (a stage that failed to refuse
// cannot open the way).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rackName, prefix string) {
	c := h.newCall(w, r, rackName, prefix)
	for _, s := range h.stages {
		if f := s.run(c); f != nil {
			h.refuse(c, f)
			c.finishGrant(f.status) // a step claimed by the approval stage is given back
			return
		}
	}
	if !c.decision.Allow {
		h.refuse(c, refuse(http.StatusForbidden, c.decision.Reason, denyMessage(c.decision, c.route)))
		c.finishGrant(http.StatusForbidden)
		return
	}
	h.forward(c)
	c.finishGrant(c.ev.Status)
}

// stripPrefix removes the gateway prefix from both forms of the path.
func stripPrefix(u *url.URL, prefix string) (path, rawPath string, ok bool) {
	path = strings.TrimPrefix(u.Path, prefix)
	if len(path) == len(u.Path) && prefix != "" {
		return "", "", false
	}
	if path == "" {
		path = "/"
	}
	if u.RawPath != "" {
		rawPath = strings.TrimPrefix(u.RawPath, prefix)
		if len(rawPath) == len(u.RawPath) {
			return "", "", false
		}
		if rawPath == "" {
			rawPath = "/"
		}
	}
	return path, rawPath, true
}

// isWebsocket reports an upgrade request (Connection: upgrade, Upgrade: websocket).
func isWebsocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// proxyError turns transport failures into a clear 502.
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	timedOut := errors.Is(context.Cause(r.Context()), errRackTimeout)
	if !timedOut && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	c := callFrom(r.Context())
	rack := ""
	if c != nil {
		rack = c.rack
	}
	reason := authz.ReasonUpstreamError
	status, msg := http.StatusBadGateway, fmt.Sprintf("rack-gateway: rack %q is unreachable or failed to answer", rack)
	switch {
	case c != nil && c.bodyFailed.Load():
		reason, status = authz.ReasonBadRequest, http.StatusBadRequest
		msg = "rack-gateway: the request body could not be read (malformed or cut off); the call was not completed"
		h.log.Info("request body could not be read", "rack", rack, "err", err)
	case errors.Is(err, errRackCredentials):
		reason = authz.ReasonRackCredentials
		msg = fmt.Sprintf("rack-gateway: rack %q refused the gateway's own credentials: the gateway's configuration "+
			"for this rack (its password) is wrong; this is not your token's fault; tell a gateway admin", rack)
		h.log.Error("the rack refused the gateway's rack password: check the rack's password in the configuration",
			"rack", rack)
	case errors.Is(err, errFilter):
		msg = "rack-gateway: the rack's response was withheld because its secrets could not be filtered"
		h.log.Warn("rack answer withheld: could not filter it", "rack", rack, "err", err)
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusGatewayTimeout, fmt.Sprintf("rack-gateway: rack %q did not answer in time", rack)
		h.log.Warn("rack did not answer in time", "rack", rack)
	default:
		h.log.Warn("rack unreachable", "rack", rack, "err", err)
	}
	if c != nil {
		c.upstreamReason = reason
	}
	writeError(w, status, reason, w.Header().Get("X-Request-Id"), msg)
}
