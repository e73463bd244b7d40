package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/clientip"
)

// maxActBody bounds a rack answer read by Act (actions answer with a few
// bytes of JSON).
const maxActBody = 1 << 20

// RackAct is a change to a rack made inside the gateway on behalf of a
// signed-in person (the console's action pages): restart, scale, promote,
// stop. It goes through the same pipeline as the same call from the
// convox CLI: the credential is authenticated, the call checked against
// cross-site use, authorized, stepped up, gated by approvals and guards,
// recorded write-ahead, forwarded and its outcome audited.
type RackAct struct {
	Rack   string // a configured rack's name
	Method string // POST, PUT or DELETE
	// Path is the rack API path, each segment already escaped, e.g.
	// "/apps/myapp/services/web/restart".
	Path string
	// Form is the call's form body (nil: none), e.g. count=2 for a scale.
	Form url.Values
	// Credential is the person's session (or API token), sent as a Bearer
	// token.
	Credential string
	// For is the request being served (the console's form post): the call
	// takes its peer address, forwarded-for chain, user agent and its
	// Origin and Sec-Fetch-Site, so that the audit names the same caller
	// and the proxy's own cross-site check decides on what the browser
	// said.
	For *http.Request
}

// errActMethod refuses a method Act does not make.
var errActMethod = errors.New("proxy: Act makes POST, PUT and DELETE calls only")

// Act runs q through the pipeline and returns the answer (the rack's, or
// the gateway's refusal). An error means the call could not be made or
// its answer not read whole; the call may still have reached the rack.
func (h *Handler) Act(ctx context.Context, q RackAct) (RackAnswer, error) {
	switch q.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return RackAnswer{}, errActMethod
	}
	if !strings.HasPrefix(q.Path, "/") {
		return RackAnswer{}, errors.New("proxy: Act path must start with /")
	}
	// The path is given escaped: parse it as a URL would arrive, so that
	// the pipeline's canonical-path check sees exactly what a client
	// would have sent (an encoded "/" or a dot segment is refused there).
	u, err := url.Parse("/racks/" + url.PathEscape(q.Rack) + q.Path)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return RackAnswer{}, errors.New("proxy: Act path is not a plain path")
	}
	body := ""
	if q.Form != nil {
		body = q.Form.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, q.Method, u.String(), strings.NewReader(body))
	if err != nil {
		return RackAnswer{}, err
	}
	// (NewRequest parses the string again: keep the URL as parsed above.)
	req.URL = u
	if q.Form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if q.For != nil {
		req = req.WithContext(clientip.WithPeerOf(ctx, q.For))
		req.RemoteAddr = q.For.RemoteAddr
		req.Host = q.For.Host
		req.Header.Set("User-Agent", q.For.UserAgent())
		if xff := q.For.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			req.Header["X-Forwarded-For"] = xff
		}
		for _, k := range []string{"Origin", "Sec-Fetch-Site"} {
			if v := q.For.Header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	req.Header.Set("Authorization", "Bearer "+q.Credential)
	req.Header.Set("Accept", "application/json")
	req.SetPathValue("rack", q.Rack)
	w := &bufferedAnswer{header: http.Header{}, limit: maxActBody}
	h.ServeNamed(w, req)
	if w.err != nil {
		return RackAnswer{}, w.err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return RackAnswer{Status: w.status, Header: w.header, Body: w.body}, nil
}
