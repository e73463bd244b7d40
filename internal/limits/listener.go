package limits

import (
	"net"
	"net/netip"
	"sync"
)

// Listener caps open connections: at most Total in all and PerAddr from
// one peer address (peers in Exempt, such as the load balancers named in
// trusted_proxies, count only towards Total). A connection over a cap is
// closed as soon as it is accepted, so idle connections from one host
// cannot starve everyone else.
type Listener struct {
	net.Listener
	Total   int
	PerAddr int
	Exempt  []netip.Prefix

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
	// Refused counts connections closed for being over a cap.
	refused int64
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := peerAddr(c)
		if l.admit(addr) {
			return &limitedConn{Conn: c, l: l, addr: addr}, nil
		}
		_ = c.Close()
	}
}

func (l *Listener) admit(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr == nil {
		l.byAddr = map[netip.Addr]int{}
	}
	exempt := !addr.IsValid() || l.exempt(addr)
	if l.Total > 0 && l.open >= l.Total || !exempt && l.PerAddr > 0 && l.byAddr[addr] >= l.PerAddr {
		l.refused++
		return false
	}
	l.open++
	if !exempt {
		l.byAddr[addr]++
	}
	return true
}

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n, ok := l.byAddr[addr]; ok {
		if n <= 1 {
			delete(l.byAddr, addr)
		} else {
			l.byAddr[addr] = n - 1
		}
	}
}

func (l *Listener) exempt(a netip.Addr) bool {
	for _, p := range l.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Stats reports the connections open and refused so far.
func (l *Listener) Stats() (open int, refused int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.refused
}

func peerAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn releases its place when closed (once).
type limitedConn struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}
