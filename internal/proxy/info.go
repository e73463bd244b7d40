package proxy

import (
	"context"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// requestInfo travels with the request through the reverse proxy so the
// rewrite and response hooks know who is calling and which route it is.
type requestInfo struct {
	principal    *authz.Principal
	route        *routes.Route
	rack         string
	actor        string
	clientIP     string // the caller, through trusted proxies (X-Forwarded-For to the rack)
	websocket    bool
	filterActive bool // the response must be filtered for this caller
	// session, for interactive websockets, counts bytes and catches the
	// exit code; audited with the outcome.
	session *session
	// watch is the wait for the rack's headers (headerWatch).
	watch *watched
}

type infoKey struct{}

func withInfo(ctx context.Context, i *requestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, i)
}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}
