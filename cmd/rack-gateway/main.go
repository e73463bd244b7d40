// Command rack-gateway is an identity-aware gateway for Convox racks. Run
// "rack-gateway dev" for a zero-setup local gateway with a simulated rack.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rack-gateway/rack-gateway/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
