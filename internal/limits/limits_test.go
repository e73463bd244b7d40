package limits

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

func TestFailureLimiterBudget(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	l := NewFailureLimiter(60, 3, fake) // one a second, three at once
	const a, b = "198.51.100.1", "198.51.100.2"
	for i := range 3 {
		if _, blocked := l.Blocked(a); blocked {
			t.Fatalf("blocked after %d failures, budget 3", i)
		}
		l.Failed(a)
	}
	wait, blocked := l.Blocked(a)
	if !blocked || wait <= 0 || wait > time.Second {
		t.Fatalf("after the budget: blocked=%v wait=%v, want blocked for at most 1s", blocked, wait)
	}
	if _, blocked := l.Blocked(b); blocked {
		t.Fatal("another address is blocked")
	}
	fake.Advance(wait)
	if _, blocked := l.Blocked(a); blocked {
		t.Fatal("still blocked once a failure has been refilled")
	}
	l.Failed(a)
	if _, blocked := l.Blocked(a); !blocked {
		t.Fatal("the refilled failure was not spent")
	}
	// Refusals are counted per address, then handed over once.
	l.Refused(a)
	l.Refused(a)
	l.Refused(b)
	if got := l.TakeRefused(); got[a] != 2 || got[b] != 1 || len(got) != 2 {
		t.Fatalf("TakeRefused = %v", got)
	}
	if got := l.TakeRefused(); len(got) != 0 {
		t.Fatalf("second TakeRefused = %v, want empty", got)
	}
	// Addresses that owe nothing are forgotten: the limiter is back to its
	// lock-free answer.
	fake.Advance(time.Hour)
	l.TakeRefused()
	if n := l.tracked.Load(); n != 0 {
		t.Fatalf("%d addresses still tracked after they recovered", n)
	}
	if _, blocked := l.Blocked(a); blocked {
		t.Fatal("blocked after recovery")
	}
	// Disabled, or nil: never blocks.
	off := NewFailureLimiter(-1, 1, fake)
	var nilL *FailureLimiter
	for range 100 {
		off.Failed(a)
		nilL.Failed(a)
	}
	if _, blocked := off.Blocked(a); blocked {
		t.Fatal("a disabled limiter blocked")
	}
	if _, blocked := nilL.Blocked(a); blocked {
		t.Fatal("a nil limiter blocked")
	}
}

// Memory stays bounded when every request comes from a new address.
func TestFailureLimiterBounded(t *testing.T) {
	fake := clock.NewFake(time.Unix(0, 0))
	l := NewFailureLimiter(60, 2, fake)
	for i := range maxAddresses + 1000 {
		l.Failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
	}
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	if n > maxAddresses {
		t.Fatalf("%d addresses tracked, want at most %d", n, maxAddresses)
	}
}

// Connections over the per-address cap are closed at once; the ones
// within it work, and a closed one frees its place. Exempt addresses
// count towards the total only.
func TestListenerCaps(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &Listener{Listener: inner, Total: 100, PerAddr: 3}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	addr := inner.Addr().String()

	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close()
	}
	get := func(c net.Conn) (string, error) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, c := range conns {
		if body, err := get(c); err != nil || body != "ok" {
			t.Fatalf("a connection within the cap: %q %v", body, err)
		}
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if body, err := get(over); err == nil {
		t.Fatalf("the fourth connection from one address was served: %q", body)
	}
	if open, refused := ln.Stats(); open != 3 || refused != 1 {
		t.Fatalf("open %d refused %d, want 3 and 1", open, refused)
	}
	conns[0].Close()
	testutil.Eventually(t, "the server to close its side and free the place", func() bool {
		open, _ := ln.Stats()
		return open == 2
	})
	freed, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer freed.Close()
	if body, err := get(freed); err != nil || body != "ok" {
		t.Fatalf("a connection after one closed: %q %v", body, err)
	}
}

// Exempt peers (the trusted proxies) are held to the total only.
func TestListenerExempt(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &Listener{Listener: inner, Total: 3, PerAddr: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10, DisableKeepAlives: false}}
	for range 3 { // three connections from one exempt address
		conn, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	testutil.Eventually(t, "three connections admitted", func() bool { open, _ := ln.Stats(); return open == 3 })
	// The total is reached: the next one is refused.
	resp, err := c.Get("http://" + inner.Addr().String())
	if err == nil {
		resp.Body.Close()
		t.Fatal("a connection over the total was served")
	}
	if _, refused := ln.Stats(); refused == 0 {
		t.Fatal("nothing refused")
	}
}
