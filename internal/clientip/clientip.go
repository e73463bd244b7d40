// Package clientip resolves who is calling: the connection's peer, or,
// when the peer is a trusted proxy (RGW_TRUSTED_PROXIES), the client it
// names in X-Forwarded-For. Every part of the gateway that records or
// limits by address (the proxy, the admin API, the console, the login
// flows, rate limits) uses the one Resolver.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses through a set of trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that trusts the proxies in the given CIDRs.
func New(trusted []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range trusted {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		r.trusted = append(r.trusted, pfx)
	}
	return r, nil
}

// IP is the caller's address: the peer, or the first address before a
// trusted proxy in X-Forwarded-For, read from the right (the part of the
// chain the trusted proxies wrote). A nil Resolver trusts nobody.
func (rv *Resolver) IP(r *http.Request) string {
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
	if rv == nil || len(rv.trusted) == 0 || !rv.isTrusted(ip) {
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
		if !rv.isTrusted(ip) {
			break
		}
	}
	return ip.String()
}

func (rv *Resolver) isTrusted(ip netip.Addr) bool {
	for _, p := range rv.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

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

// WithPeerOf returns ctx carrying the parsed peer of the connection that
// from arrived on, if any: for requests the gateway makes internally on
// behalf of another (the console's reads through the proxy).
func WithPeerOf(ctx context.Context, from *http.Request) context.Context {
	if p, ok := from.Context().Value(peerKey{}).(*peer); ok {
		return context.WithValue(ctx, peerKey{}, p)
	}
	return ctx
}
