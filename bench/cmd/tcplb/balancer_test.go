package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers each line with "NAME:line" and counts connections.
func echoServer(t *testing.T, name string) (addr string, conns *atomic.Int64, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s:%s", name, line)
				}
			}()
		}
	}()
	return ln.Addr().String(), conns, func() { ln.Close() }
}

func startLB(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go newBalancer(backends, time.Second).serve(ln) //nolint:errcheck // ends with the listener
	return ln.Addr().String()
}

// roundTrip sends one line through a new connection and returns the answer.
func roundTrip(t *testing.T, addr, msg string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestRoundRobin(t *testing.T) {
	a, na, stopA := echoServer(t, "a")
	defer stopA()
	b, nb, stopB := echoServer(t, "b")
	defer stopB()
	lb := startLB(t, a, b)
	seen := map[string]int{}
	for i := range 10 {
		got, err := roundTrip(t, lb, fmt.Sprint("m", i))
		if err != nil {
			t.Fatal(err)
		}
		name, msg, _ := strings.Cut(got, ":")
		if msg != fmt.Sprint("m", i) {
			t.Fatalf("answer %q to m%d", got, i)
		}
		seen[name]++
	}
	if seen["a"] != 5 || seen["b"] != 5 || na.Load() != 5 || nb.Load() != 5 {
		t.Fatalf("not round robin: answers %v, connections a=%d b=%d", seen, na.Load(), nb.Load())
	}
}

// A dead backend (connection refused) is skipped: every connection still
// reaches the live one.
func TestDeadBackendSkipped(t *testing.T) {
	a, _, stopA := echoServer(t, "a")
	defer stopA()
	dead, _, stopDead := echoServer(t, "dead")
	stopDead() // its port now refuses connections
	lb := startLB(t, dead, a)
	for i := range 6 {
		got, err := roundTrip(t, lb, "x")
		if err != nil || got != "a:x" {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
	}
}

// With every backend down the client's connection is closed, not hung.
func TestNoBackendCloses(t *testing.T) {
	dead, _, stop := echoServer(t, "dead")
	stop()
	lb := startLB(t, dead)
	got, err := roundTrip(t, lb, "x")
	if err == nil || got != "" {
		t.Fatalf("want a closed connection, got %q, %v", got, err)
	}
}

// A client's half-close reaches the backend and the answer still comes back.
func TestHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		body, _ := io.ReadAll(c) // until the client's FIN
		fmt.Fprintf(c, "got %d bytes", len(body))
	}()
	lb := startLB(t, ln.Addr().String())
	c, err := net.Dial("tcp", lb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	ans, err := io.ReadAll(c)
	if err != nil || string(ans) != "got 100000 bytes" {
		t.Fatalf("answer %q, %v", ans, err)
	}
}

// A backend that dies mid-answer (its socket reset, as after kill -9)
// ends the client's connection at once instead of leaving it hanging.
func TestBackendDiesMidAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("partial"))
		_ = c.(*net.TCPConn).SetLinger(0) // close with RST
		_ = c.Close()
	}()
	lb := startLB(t, ln.Addr().String())
	c, err := net.Dial("tcp", lb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("client left hanging after %q", got)
	}
	if len(got) > len("partial") {
		t.Fatalf("read %q", got)
	}
}
