package proxy

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/routes"
	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

// Handler is the pipeline every rack call goes through, in this order:
// canonical path → route match → authenticate → authorize → request guard →
// write-ahead audit (mutating calls) → forward → audit outcome.
type Handler struct {
	racks       map[string]*Upstream
	defaultRack string
	authn       *authn.Authenticator
	audit       *audit.Auditor
	secrets     *secrets.Classifier
	matcher     *routes.Matcher
	metrics     *Metrics
	log         *slog.Logger
	valueHash   func(name, value string) string
	trusted     []netip.Prefix

	headers *headerWatch // bounds the wait for the rack's headers (RequestTimeout)

	streams sync.WaitGroup // websockets in flight, for graceful shutdown
}

// Options configure a Handler.
type Options struct {
	Config  *config.Config
	Authn   *authn.Authenticator
	Audit   *audit.Auditor
	Metrics *Metrics
	Logger  *slog.Logger
	// ValueHash, if set, records keyed hashes of env values that a call
	// sets (audit.ValueHash with the audit HMAC key).
	ValueHash func(name, value string) string
}

// New builds the handler and one upstream per configured rack.
func New(o Options) (*Handler, error) {
	h := &Handler{
		racks:       map[string]*Upstream{},
		defaultRack: o.Config.DefaultRack,
		authn:       o.Authn,
		audit:       o.Audit,
		secrets:     secrets.NewClassifier(o.Config.SecretEnvPatterns, o.Config.ProtectedEnvKeys),
		matcher:     routes.Default,
		metrics:     o.Metrics,
		log:         o.Logger,
		valueHash:   o.ValueHash,

		headers: newHeaderWatch(o.Config.RequestTimeout.D()),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, p := range o.Config.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		h.trusted = append(h.trusted, pfx)
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

// call is the state of one request through the pipeline.
type call struct {
	start time.Time
	ev    chain.Event
}

// newRequestID returns 24 hex digits. Request ids only correlate records,
// so they come from the runtime's fast per-thread generator (ChaCha8,
// seeded from the OS), not from crypto/rand.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rackName, prefix string) {
	c := &call{start: time.Now()}
	reqID := newRequestID()
	w.Header()["X-Request-Id"] = []string{reqID}
	c.ev = chain.Event{
		Time: c.start, RequestID: reqID, Rack: rackName, ActorType: "anonymous", Actor: "anonymous",
		SourceIP: h.clientIP(r), UserAgent: truncate(r.UserAgent(), 256), Method: r.Method,
	}

	up := h.racks[rackName]
	if up == nil {
		c.ev.Rack = truncate(rackName, 128)
		h.refuse(w, c, http.StatusNotFound, authz.ReasonUnknownRack,
			fmt.Sprintf("rack-gateway: no rack named %q on this gateway", rackName))
		return
	}
	path, rawPath, ok := stripPrefix(r.URL, prefix)
	if !ok {
		h.refuse(w, c, http.StatusBadRequest, authz.ReasonBadPath, "rack-gateway: path is not canonical")
		return
	}
	c.ev.Path = truncate(path, 512)

	// The convox CLI probes these before every websocket and ignores the
	// 404; answer quietly without auditing or forwarding.
	if (path == "/machines" || path == "/racks") && r.Method == http.MethodGet {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	escaped := rawPath
	if escaped == "" {
		escaped = path
	}
	if err := routes.CheckPath(escaped, path); err != nil {
		h.refuse(w, c, http.StatusBadRequest, authz.ReasonBadPath,
			"rack-gateway: refused: the path has encoded or dot segments, double slashes or control characters")
		return
	}
	isWS := isWebsocket(r)
	m, ok := h.matcher.Match(r.Method, path, isWS)
	if !ok {
		h.refuse(w, c, http.StatusForbidden, authz.ReasonNoRoute,
			fmt.Sprintf("rack-gateway: refused: %s %s is not a known rack API route", r.Method, path))
		return
	}
	rt := m.Route
	c.ev.Route, c.ev.Action, c.ev.Permission = rt.Name, rt.Name, string(rt.Permission)
	c.ev.App, c.ev.Resource = m.App(), truncate(m.Resource(), 256)

	info := &requestInfo{route: rt, rack: rackName, websocket: isWS, actor: "anonymous", clientIP: c.ev.SourceIP}
	if !rt.Public {
		res, err := h.authn.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			h.log.Error("authentication unavailable", "err", err, "request_id", reqID)
			h.refuse(w, c, http.StatusServiceUnavailable, authz.ReasonAuditUnavailable,
				"rack-gateway: cannot check credentials right now; try again shortly")
			return
		}
		if res.Principal == nil {
			if res.Holder != nil { // a known credential, no longer good: name its holder
				setActor(&c.ev, res.Holder)
				c.ev.Role = res.Holder.Role
			}
			h.refuse(w, c, http.StatusUnauthorized, res.Reason, unauthMessage(res.Reason))
			return
		}
		p := res.Principal
		info.principal, info.actor = p, p.ActorName()
		setActor(&c.ev, p)
		d := authz.Decide(p, rt.Permission, rackName)
		c.ev.Role = d.Role
		if !d.Allow {
			h.refuse(w, c, http.StatusForbidden, d.Reason, denyMessage(d, rt))
			return
		}
	}
	c.ev.Decision, c.ev.Reason = "allow", string(authz.ReasonAllowed)
	if rt.Public {
		c.ev.Reason = string(authz.ReasonPublic)
	}

	// Read small form bodies of mutating calls so allow-listed parameters
	// can be audited and guards can inspect them; bulk streams are never read.
	var form url.Values
	var details map[string]any // allow-listed audit details; nil for plain reads
	if rt.Mutating && !rt.Stream && isForm(r) {
		var err error
		form, err = bufferForm(r, maxFormBody)
		if err != nil {
			h.refuse(w, c, http.StatusRequestEntityTooLarge, authz.ReasonBadRequest, "rack-gateway: "+err.Error())
			return
		}
	}
	if rt.Guard == routes.GuardReleaseEnv {
		details = map[string]any{}
		if status, reason, msg := h.guardReleaseEnv(r, up, m, info, form, details); status != 0 {
			c.ev.Details = audit.Details(details)
			h.refuse(w, c, status, reason, msg)
			return
		}
	}
	if ps := audit.Params(rt, form, r.URL.RawQuery, r.Header); len(ps) > 0 {
		if details == nil {
			details = map[string]any{}
		}
		details["params"] = ps
	}
	info.filterActive = h.filterActive(rt, info.principal, rackName)

	if rt.Mutating {
		attempt := c.ev
		attempt.Details = audit.Details(withPhase(details, "attempt"))
		if err := h.audit.RecordSync(r.Context(), &attempt); err != nil {
			h.refuse(w, c, http.StatusServiceUnavailable, authz.ReasonAuditUnavailable,
				"rack-gateway: refused: the audit log is unavailable, so changes are blocked; try again shortly")
			return
		}
		details = withPhase(details, "outcome")
	}

	if isWS && rt.Mutating { // exec, shell, console: audited as one session
		info.session = newSession()
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	ctx, watch := h.headers.watch(withInfo(r.Context(), info), hasBody)
	defer watch.release()
	info.watch = watch
	out := r.WithContext(ctx)
	if hasBody {
		out.Body = watch.body(r.Body)
	}
	u := *r.URL
	u.Path, u.RawPath = path, rawPath
	out.URL = &u
	sw := &statusWriter{ResponseWriter: w}
	if isWS {
		h.streams.Add(1)
		defer h.streams.Done()
	}
	up.proxy.ServeHTTP(sw, out)

	c.ev.Status = sw.status
	if sw.status == 0 {
		c.ev.Status = 499 // client went away before any response
	}
	c.ev.DurationUS = time.Since(c.start).Microseconds()
	if info.session != nil && c.ev.Status == http.StatusSwitchingProtocols {
		details["session"] = info.session.details()
	}
	c.ev.Details = audit.Details(details)
	h.audit.Record(&c.ev)
	h.metrics.observe(rackName, rt.Name, c.ev.Decision, c.ev.Status, time.Since(c.start))
}

// refuse answers a refused call and audits the refusal.
func (h *Handler) refuse(w http.ResponseWriter, c *call, status int, reason authz.Reason, msg string) {
	writeError(w, status, reason, c.ev.RequestID, msg)
	c.ev.Decision, c.ev.Reason, c.ev.Status = "deny", string(reason), status
	c.ev.DurationUS = time.Since(c.start).Microseconds()
	ev := c.ev
	h.audit.Record(&ev)
	route, rack := c.ev.Route, c.ev.Rack
	if route == "" {
		route = "unmatched"
	}
	if _, ok := h.racks[rack]; !ok {
		rack = "unknown" // a name from the URL must not mint metric series
	}
	h.metrics.observe(rack, route, "deny", status, time.Since(c.start))
}

func setActor(ev *chain.Event, p *authz.Principal) {
	ev.ActorID = p.UserID
	ev.Actor = p.Email
	ev.ActorType = string(p.Kind)
	if p.Kind == authz.KindToken {
		ev.TokenID = p.TokenID
		ev.Actor = p.Email
	}
}

func withPhase(d map[string]any, phase string) map[string]any {
	out := make(map[string]any, len(d)+1)
	for k, v := range d {
		out[k] = v
	}
	out["phase"] = phase
	return out
}

func unauthMessage(r authz.Reason) string {
	switch r {
	case authz.ReasonTokenExpired:
		return "rack-gateway: your API token has expired; create a new one"
	case authz.ReasonTokenRevoked:
		return "rack-gateway: your API token was revoked; create a new one"
	case authz.ReasonUserDisabled:
		return "rack-gateway: your account is disabled; ask a gateway admin"
	case authz.ReasonSessionExpired:
		return "rack-gateway: your session has expired; run: rack-gateway login"
	case authz.ReasonSessionRevoked:
		return "rack-gateway: your session was ended (logout, or an admin changed your access); run: rack-gateway login"
	case authz.ReasonUnauthenticated:
		return "rack-gateway: authentication required: put an API token in RACK_URL (https://convox:<token>@host/rack)"
	}
	return "rack-gateway: invalid credentials: check the token in RACK_URL"
}

func denyMessage(d authz.Decision, rt *routes.Route) string {
	switch d.Reason {
	case authz.ReasonTokenScope:
		return fmt.Sprintf("rack-gateway: permission denied: this API token's scope lacks %s (needed for %s)", d.Permission, rt.Name)
	case authz.ReasonUserDisabled:
		return "rack-gateway: your account is disabled; ask a gateway admin"
	}
	return fmt.Sprintf("rack-gateway: permission denied: role %q lacks %s (needed for %s); ask a gateway admin", d.Role, d.Permission, rt.Name)
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

// ClientIP is the caller's address: the peer, or the client named in
// X-Forwarded-For when the peer is a trusted proxy (RGW_TRUSTED_PROXIES).
func (h *Handler) ClientIP(r *http.Request) string { return h.clientIP(r) }

// clientIP is the peer address, or the first address before a trusted proxy
// in X-Forwarded-For.
func (h *Handler) clientIP(r *http.Request) string {
	var (
		ip  netip.Addr
		str string // ip.String(), when already known
	)
	if p, ok := r.Context().Value(peerKey{}).(*peer); ok { // parsed per connection (ConnContext)
		ip, str = p.addr, p.str
	} else {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		ip = ap.Addr().Unmap()
	}
	if len(h.trusted) == 0 || !h.isTrusted(ip) {
		if str == "" {
			str = ip.String()
		}
		return str
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = a.Unmap()
		if !h.isTrusted(ip) {
			break
		}
	}
	return ip.String()
}

func (h *Handler) isTrusted(ip netip.Addr) bool {
	for _, p := range h.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// proxyError turns transport failures into a clear 502.
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	timedOut := errors.Is(context.Cause(r.Context()), errRackTimeout)
	if !timedOut && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	rack := ""
	if i := infoFrom(r.Context()); i != nil {
		rack = i.rack
	}
	h.log.Warn("rack unreachable", "rack", rack, "err", err)
	status, msg := http.StatusBadGateway, fmt.Sprintf("rack-gateway: rack %q is unreachable or failed to answer", rack)
	if errors.Is(err, errFilter) {
		msg = "rack-gateway: the rack's response was withheld because its secrets could not be filtered"
	} else if timedOut || errors.Is(err, context.DeadlineExceeded) {
		status, msg = http.StatusGatewayTimeout, fmt.Sprintf("rack-gateway: rack %q did not answer in time", rack)
	}
	writeError(w, status, authz.ReasonUpstreamError, w.Header().Get("X-Request-Id"), msg)
}
