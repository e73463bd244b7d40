package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/clientip"
)

// maxReadBody bounds a rack answer read by Read.
const maxReadBody = 8 << 20

// RackRead is a read of rack data made inside the gateway on behalf of a
// signed-in person (the console's pages). It goes through the same
// pipeline as a call from the convox CLI: the credential is authenticated,
// the read authorized, its response filtered and the call audited.
type RackRead struct {
	Rack  string     // a configured rack's name
	Path  string     // a rack API path, e.g. "/apps/myapp/builds"
	Query url.Values // optional
	// Credential is the person's session (or API token), sent as a Bearer
	// token.
	Credential string
	// For is the request being served (a console page): the read takes its
	// peer address, forwarded-for chain and user agent, so the audit names
	// the same caller.
	For *http.Request
}

// RackAnswer is what the rack (or the gateway, refusing) answered.
type RackAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// errReadTooLarge is returned when a rack answer exceeds maxReadBody.
var errReadTooLarge = errors.New("the rack's answer is too large to read")

// Read runs q through the pipeline and returns the answer. Only GETs are
// made; an error means the answer could not be read whole.
func (h *Handler) Read(ctx context.Context, q RackRead) (RackAnswer, error) {
	u := url.URL{Path: "/racks/" + q.Rack + q.Path, RawQuery: q.Query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return RackAnswer{}, err
	}
	if q.For != nil {
		// The connection's parsed peer (clientip.ConnContext) travels in
		// the original request's context; keep it.
		req = req.WithContext(clientip.WithPeerOf(ctx, q.For))
		req.RemoteAddr = q.For.RemoteAddr
		req.Header.Set("User-Agent", q.For.UserAgent())
		if xff := q.For.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			req.Header["X-Forwarded-For"] = xff
		}
	}
	req.Header.Set("Authorization", "Bearer "+q.Credential)
	req.Header.Set("Accept", "application/json")
	req.SetPathValue("rack", q.Rack)
	w := &bufferedAnswer{header: http.Header{}}
	h.ServeNamed(w, req)
	if w.err != nil {
		return RackAnswer{}, w.err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return RackAnswer{Status: w.status, Header: w.header, Body: w.body}, nil
}

// bufferedAnswer is the http.ResponseWriter behind Read: it keeps the
// status, headers and a bounded body.
type bufferedAnswer struct {
	header http.Header
	status int
	body   []byte
	err    error
}

func (b *bufferedAnswer) Header() http.Header { return b.header }

func (b *bufferedAnswer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedAnswer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if len(b.body)+len(p) > maxReadBody {
		b.err = errReadTooLarge
		return 0, b.err
	}
	b.body = append(b.body, p...)
	return len(p), nil
}
