// Command bareproxy is the reference path for the load harness: a bare
// httputil.ReverseProxy in front of the rack that only injects the rack's
// Basic credentials, with a transport tuned like the gateway's (or Go's
// default transport with -default-transport).
package main

import (
	"encoding/base64"
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

// startProfile profiles the CPU into path until the returned function runs.
func startProfile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	target := flag.String("target", "", "rack URL, e.g. http://127.0.0.1:5443")
	password := flag.String("password", "", "rack password")
	defaultTransport := flag.Bool("default-transport", false, "use http.DefaultTransport instead of a tuned one")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until SIGTERM (to compare with the gateway's)")
	flag.Parse()
	if *cpuProfile != "" {
		stop := startProfile(*cpuProfile)
		defer stop()
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		log.Fatalf("bad -target %q", *target)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+*password))
	var tr http.RoundTripper = http.DefaultTransport
	if !*defaultTransport {
		tr = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     128 << 10,
			ReadBufferSize:      32 << 10,
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			pr.Out.Header.Set("Authorization", auth)
			if pr.Out.Header.Get("Upgrade") != "" {
				pr.Out.Header.Set("Origin", u.Scheme+"://"+u.Host)
			}
		},
		Transport: tr,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("bareproxy listening on %s", ln.Addr())
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
