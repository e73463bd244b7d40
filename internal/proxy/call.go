package proxy

import (
	"context"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// call is one rack API call on its way through the pipeline: the request,
// what the stages have learned so far, and the audit event they fill in.
// It travels in the outbound request's context to the reverse proxy's hooks
// (rewrite, modifyResponse, proxyError).
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	ev    chain.Event // the audit record, filled in stage by stage

	rack          string // as named by the URL
	prefix        string // the gateway's prefix for this rack, e.g. "/rack"
	up            *Upstream
	path, rawPath string // without the prefix
	websocket     bool
	match         routes.Match
	route         *routes.Route

	principal   *authz.Principal // nil on public routes
	authChecked bool             // the authenticate stage ran
	actor       string           // sent to the rack as X-Convox-Actor
	decision    authz.Decision

	slot audit.Slot // room in the audit queue for the call's record

	form    url.Values     // a mutating call's small form body, when read
	details map[string]any // allow-listed audit details; nil for plain reads
	// phases are the details as encoded for a change's write-ahead
	// attempt, for its outcome (forward.go); nil for other calls.
	phases *audit.Phased

	filterActive bool // the response must be filtered for this caller
	// upstreamReason says why the rack's answer failed, when it did
	// (proxyError); audited as the outcome's reason.
	upstreamReason authz.Reason
	// bodyFailed is set when the client's body could not be read while it
	// was being forwarded (clientBody).
	bodyFailed atomic.Bool
	// session, for interactive websockets, counts bytes and catches the
	// exit code; audited with the outcome.
	session *session
	watch   *watched // the wait for the rack's headers (headerWatch)
	// cut ends a live stream (RecheckStreams); nil for plain calls.
	cut context.CancelCauseFunc
	// grant is the deploy approval this call uses, if any (approval.go).
	grant *approval.Grant
}

// finishGrant records the outcome of a call that used an approval.
func (c *call) finishGrant(status int) {
	if c.grant != nil {
		c.grant.Finish(c.r.Context(), status)
		c.grant = nil
	}
}

// newCall starts a call: a request id, and an audit event that names what
// is known before any stage has run.
func (h *Handler) newCall(w http.ResponseWriter, r *http.Request, rackName, prefix string) *call {
	c := &call{w: w, r: r, start: time.Now(), rack: rackName, prefix: prefix, actor: "anonymous"}
	reqID := audit.NewRequestID()
	w.Header()["X-Request-Id"] = []string{reqID}
	c.ev = chain.Event{
		Time: c.start, RequestID: reqID, Rack: rackName, ActorType: "anonymous", Actor: "anonymous",
		SourceIP: h.clientIP.IP(r), UserAgent: truncate(r.UserAgent(), 256), Method: r.Method,
	}
	return c
}

// addDetails merges allow-listed audit details into the call's.
func (c *call) addDetails(d map[string]any) {
	if len(d) == 0 {
		return
	}
	if c.details == nil {
		c.details = make(map[string]any, len(d))
	}
	for k, v := range d {
		c.details[k] = v
	}
}

type callKey struct{}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}
