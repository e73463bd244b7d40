package main

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// balancer hands accepted connections to backends in turn.
type balancer struct {
	backends    []string
	dialTimeout time.Duration
	next        atomic.Uint64

	conns, failedDials, noBackend atomic.Int64
}

func newBalancer(backends []string, dialTimeout time.Duration) *balancer {
	return &balancer{backends: backends, dialTimeout: dialTimeout}
}

// serve accepts until ln is closed.
func (b *balancer) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go b.handle(c)
	}
}

// dial connects to the next backend in turn, trying each backend at most
// once: a refused dial (a dead replica) moves on to the next.
func (b *balancer) dial() (net.Conn, error) {
	start := b.next.Add(1) - 1
	var last error
	for i := range len(b.backends) {
		addr := b.backends[(start+uint64(i))%uint64(len(b.backends))]
		c, err := net.DialTimeout("tcp", addr, b.dialTimeout)
		if err == nil {
			return c, nil
		}
		b.failedDials.Add(1)
		last = err
	}
	return nil, last
}

func (b *balancer) handle(c net.Conn) {
	defer c.Close()
	up, err := b.dial()
	if err != nil {
		b.noBackend.Add(1)
		return // the client sees the connection closed
	}
	defer up.Close()
	b.conns.Add(1)
	done := make(chan struct{}, 2)
	go func() { pipe(up, c); done <- struct{}{} }()
	go func() { pipe(c, up); done <- struct{}{} }()
	<-done
	<-done
}

// pipe copies src to dst, then half-closes dst so the other side sees EOF
// while its own direction may still be sending.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok && err == nil {
		_ = tc.CloseWrite()
		return
	}
	// An error on either side (a backend killed mid-response): drop both,
	// so the client sees the failure instead of waiting.
	_ = dst.Close()
	_ = src.Close()
}
