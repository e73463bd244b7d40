package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
)

// Simrack is `rack-gateway simrack`.
func Simrack(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "simrack", "simrack [--addr 127.0.0.1:5443] [--password PW] [--request-log N]")
	addr := fs.String("addr", "127.0.0.1:5443", "listen `address` (loopback)")
	password := fs.String("password", e.Getenv("RGW_SIMRACK_PASSWORD"), "rack password (RGW_SIMRACK_PASSWORD; default: random, printed)")
	keep := fs.Int("request-log", 10000, "keep about this many recent requests in memory (0: all)")
	if _, err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		*password = randomHex(24)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "simulated rack on http://%s\n  RACK_URL=http://convox:%s@%s convox apps\n", ln.Addr(), *password, ln.Addr())
	return serveUntil(ctx, ln, simrack.New(simrack.Config{Password: *password, MaxRequests: *keep}).Handler())
}

// serveUntil serves h on ln until ctx ends.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
