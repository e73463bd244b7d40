// Command gwprof is rack-gateway with a CPU (and heap) profile: the same
// CLI entry point as cmd/rack-gateway, in-process, wrapped in
// runtime/pprof. bench/run.sh uses it for the gateway path when
// BENCH_PROFILE=DIR is set:
//
//	gwprof -cpuprofile DIR/gateway.cpu.pprof -memprofile DIR/gateway.heap.pprof serve
//
// -blockprofile and -mutexprofile write where goroutines waited (a
// mutating call waiting for its write-ahead commit shows up there, not in
// the CPU profile). The profiles are written when the command returns
// (SIGTERM / Ctrl-C).
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
	block := fs.String("blockprofile", "", "write a blocking profile here on exit (where goroutines wait: locks, channels, I/O)")
	mutex := fs.String("mutexprofile", "", "write a mutex contention profile here on exit")
	_ = fs.Parse(os.Args[1:]) // stops at the first non-flag (the subcommand)
	if *block != "" {
		runtime.SetBlockProfileRate(10000) // one sample per 10 µs blocked
	}
	if *mutex != "" {
		runtime.SetMutexProfileFraction(10)
	}
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
	for name, path := range map[string]string{"block": *block, "mutex": *mutex} {
		if path == "" {
			continue
		}
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup(name).WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}
