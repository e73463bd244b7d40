// Command gwprof is rack-gateway with a CPU (and heap) profile: the same
// CLI entry point as cmd/rack-gateway, in-process, wrapped in
// runtime/pprof. bench/run.sh uses it for the gateway path when
// BENCH_PROFILE=DIR is set:
//
//	gwprof -cpuprofile DIR/gateway.cpu.pprof -memprofile DIR/gateway.heap.pprof serve
//
// The profiles are written when the command returns (SIGTERM / Ctrl-C).
// Read them with `go tool pprof -top -cum DIR/gateway.cpu.pprof`.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/rack-gateway/rack-gateway/internal/cli"
)

func main() {
	fs := flag.NewFlagSet("gwprof", flag.ExitOnError)
	cpu := fs.String("cpuprofile", "", "write a CPU profile here")
	mem := fs.String("memprofile", "", "write a heap profile here on exit")
	_ = fs.Parse(os.Args[1:]) // stops at the first non-flag (the subcommand)
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, fs.Args())
	stop()
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		runtime.GC()
		if f, err := os.Create(*mem); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}
