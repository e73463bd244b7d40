// Command tcplb is the load harness's balancer in front of several gateway
// replicas: a round-robin TCP proxy on loopback. Each accepted connection
// goes to the next backend; a backend that refuses the connection (a
// replica that died) is skipped and the next one tried, so clients only see
// errors on connections that were already open to a dead replica.
//
//	tcplb -addr 127.0.0.1:9000 -backend 127.0.0.1:9001 -backend 127.0.0.1:9002
//
// It is a bench tool, not part of the gateway: no TLS, no health checks
// beyond the failed dial, no PROXY protocol.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type backendList []string

func (b *backendList) String() string     { return strings.Join(*b, ",") }
func (b *backendList) Set(s string) error { *b = append(*b, s); return nil }

func main() {
	var backends backendList
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Var(&backends, "backend", "backend HOST:PORT (repeatable)")
	dialTimeout := flag.Duration("dial-timeout", 2*time.Second, "how long one backend dial may take")
	flag.Parse()
	if len(backends) == 0 {
		log.Fatal("no -backend given")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	b := newBalancer(backends, *dialTimeout)
	log.Printf("tcplb listening on %s, backends %s", ln.Addr(), backends.String())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = ln.Close()
	}()
	err = b.serve(ln)
	log.Printf("tcplb: %v; %s", err, b.stats())
}

// stats summarises the balancer's counters for its log.
func (b *balancer) stats() string {
	return fmt.Sprintf("connections %d, failed dials %d, no backend %d", b.conns.Load(), b.failedDials.Load(), b.noBackend.Load())
}
