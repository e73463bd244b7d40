package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
)

func TestResolverIP(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: peer", nil, "203.0.113.5:41000", nil, "203.0.113.5"},
		{"no proxies: XFF ignored", nil, "203.0.113.5:41000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"ipv6 peer", nil, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped peer unmapped", nil, "[::ffff:198.51.100.9]:80", nil, "198.51.100.9"},
		{"unparseable remote", nil, "pipe", nil, "pipe"},
		{"untrusted peer spoofing XFF", []string{"10.0.0.0/8"}, "198.51.100.7:5000", []string{"1.2.3.4"}, "198.51.100.7"},
		{"untrusted peer spoofing trusted XFF", []string{"10.0.0.0/8"}, "198.51.100.7:5000", []string{"10.0.0.9"}, "198.51.100.7"},
		{"trusted peer", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"1.2.3.4"}, "1.2.3.4"},
		{"trusted mapped peer", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.1]:5000", []string{"1.2.3.4"}, "1.2.3.4"},
		{"client-supplied leftmost hop ignored", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{"chain of trusted proxies", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"6.6.6.6, 1.2.3.4, 10.0.0.7, 10.0.0.8"}, "1.2.3.4"},
		{"several XFF lines", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"no XFF from trusted peer", []string{"10.0.0.0/8"}, "10.0.0.1:5000", nil, "10.0.0.1"},
		{"garbage XFF", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"junk"}, "10.0.0.1"},
		{"garbage after a real hop", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"1.2.3.4, junk"}, "10.0.0.1"},
		{"ipv6 client", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"mapped hop unmapped", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},
		{"several trusted ranges", []string{"10.0.0.0/8", "192.168.0.0/16"}, "192.168.1.1:5000", []string{"1.2.3.4, 10.0.0.7"}, "1.2.3.4"},
	}
	for _, tc := range cases {
		rv, err := New(tc.trusted)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		if tc.xff != nil {
			r.Header["X-Forwarded-For"] = tc.xff
		}
		if got := rv.IP(r); got != tc.want {
			t.Errorf("%s: IP = %q, want %q", tc.name, got, tc.want)
		}
		// The same through the peer parsed once per connection
		// (http.Server.ConnContext), for TCP peers.
		ap, err := netip.ParseAddrPort(tc.remote)
		if err != nil {
			continue
		}
		ctx := ConnContext(context.Background(), fakeConn{remote: net.TCPAddrFromAddrPort(ap)})
		if got := rv.IP(r.WithContext(ctx)); got != tc.want {
			t.Errorf("%s, peer from ConnContext: IP = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// fakeConn is a net.Conn that only knows its remote address.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

func TestNewRejectsBadCIDR(t *testing.T) {
	if _, err := New([]string{"10.0.0.1"}); err == nil {
		t.Fatal("a bare address was accepted as a trusted range")
	}
	var nilResolver *Resolver
	if got := nilResolver.IP(&http.Request{RemoteAddr: "192.0.2.1:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}); got != "192.0.2.1" {
		t.Fatalf("nil resolver: %q", got)
	}
}
