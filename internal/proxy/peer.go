package proxy

import (
	"context"
	"net"
	"net/netip"
)

type peerKey struct{}

// peer is a connection's remote address, parsed once.
type peer struct {
	addr netip.Addr
	str  string
}

// ConnContext is for http.Server.ConnContext: it parses the connection's
// peer address once, so that requests on a kept-alive connection need no
// parsing to know who is calling.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return ctx
	}
	a := ta.AddrPort().Addr().Unmap()
	return context.WithValue(ctx, peerKey{}, &peer{addr: a, str: a.String()})
}
