// Command harness runs the same workloads directly against the simulated rack
// and through three proxies — a bare httputil.ReverseProxy, nginx and the
// gateway — in one run, each server in its own process, and prints
// throughput, latency percentiles, ratios and peak RSS.
//
// bench/run.sh builds the binaries and calls it; see bench/README.md.
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

var (
	gatewayBin = flag.String("gateway", "", "path to the rack-gateway binary")
	bareBin    = flag.String("bareproxy", "", "path to the bareproxy binary")
	nginxBin   = flag.String("nginx", "/usr/sbin/nginx", "path to nginx (skipped if missing)")
	getDur     = flag.Duration("get-duration", 10*time.Second, "measured time of the GET workload")
	postDur    = flag.Duration("post-duration", 8*time.Second, "measured time of the POST workload")
	getConc    = flag.Int("get-concurrency", 32, "connections for GETs")
	postConc   = flag.Int("post-concurrency", 16, "connections for POSTs")
	uploadSize = flag.Int64("upload-bytes", 1<<30, "size of the upload workload")
	wsCount    = flag.Int("websockets", 500, "concurrent log websockets")
	wsHold     = flag.Duration("ws-hold", 10*time.Second, "how long websockets stay open")
	out        = flag.String("out", "", "also write the report here")
)

const rackPassword = "bench-rack-password-0123456789"

// path is one way to reach the rack.
type path struct {
	name   string
	base   string // http://host:port
	prefix string // "/rack" for the gateway
	pid    int    // the proxy process, 0 for direct
}

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *gatewayBin == "" || *bareBin == "" {
		log.Fatal("need -gateway and -bareproxy")
	}
	dir, err := os.MkdirTemp("", "rgw-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_, _ = p.Process.Wait()
		}
	}()
	start := func(name string, env []string, bin string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		logf, _ := os.Create(filepath.Join(dir, name+".log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			log.Fatalf("start %s: %v", name, err)
		}
		procs = append(procs, cmd)
		return cmd
	}

	rackAddr := freeAddr()
	start("simrack", nil, *gatewayBin, "simrack", "--addr", rackAddr, "--password", rackPassword)
	waitHTTP("http://" + rackAddr + "/check")

	bareAddr := freeAddr()
	bare := start("bareproxy", nil, *bareBin, "-addr", bareAddr, "-target", "http://"+rackAddr, "-password", rackPassword)
	waitHTTP("http://" + bareAddr + "/check")

	// The gateway, bootstrapped like a fresh install.
	gwAddr := freeAddr()
	gwEnv := []string{
		"RGW_ADDR=" + gwAddr, "RGW_DATABASE_URL=sqlite:" + filepath.Join(dir, "gw.db"),
		"RGW_RACK_URL=http://" + rackAddr, "RGW_RACK_PASSWORD=" + rackPassword, "RGW_LOG_LEVEL=warn",
	}
	run(gwEnv, *gatewayBin, "admin", "create-user", "bench@example.com", "--role", "admin")
	token := strings.TrimSpace(run(gwEnv, *gatewayBin, "token", "create", "--user", "bench@example.com", "--name", "bench"))
	gw := start("gateway", gwEnv, *gatewayBin, "serve")
	waitHTTP("http://" + gwAddr + "/healthz")

	paths := []path{
		{name: "direct", base: "http://" + rackAddr},
		{name: "bare-proxy", base: "http://" + bareAddr, pid: bare.Process.Pid},
	}
	if _, err := os.Stat(*nginxBin); err == nil {
		ngAddr := freeAddr()
		conf := nginxConf(dir, ngAddr, rackAddr)
		ng := start("nginx", nil, *nginxBin, "-p", dir, "-c", conf, "-g", "daemon off;")
		waitHTTP("http://" + ngAddr + "/check")
		paths = append(paths, path{name: "nginx", base: "http://" + ngAddr, pid: ng.Process.Pid})
	} else {
		log.Printf("nginx not found at %s; skipping that reference path", *nginxBin)
	}
	paths = append(paths, path{name: "gateway", base: "http://" + gwAddr, prefix: "/rack", pid: gw.Process.Pid})

	// Everyone sends the CLI's Basic credentials; proxies replace them, the
	// rack accepts its password, the gateway its token.
	authFor := func(p path) string {
		secret := rackPassword
		if p.name == "gateway" {
			secret = token
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+secret))
	}

	var report strings.Builder
	w := tabwriter.NewWriter(io.MultiWriter(os.Stdout, &report), 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "workload\tpath\tresult\tp50\tp99\tvs direct\tvs bare proxy\tpeak RSS\terrors\t\n")

	results := map[string]map[string]result{}
	record := func(workload string, p path, r result) {
		if results[workload] == nil {
			results[workload] = map[string]result{}
		}
		results[workload][p.name] = r
	}

	for _, p := range paths {
		log.Printf("GET /apps via %s", p.name)
		resetPeak(p.pid)
		r := loadHTTP(p.base+p.prefix+"/apps", "GET", nil, authFor(p), *getConc, 2*time.Second, *getDur)
		r.rss = peakRSS(p.pid)
		record("GET /apps", p, r)
	}
	for _, p := range paths {
		log.Printf("POST restart via %s", p.name)
		resetPeak(p.pid)
		r := loadHTTP(p.base+p.prefix+"/apps/myapp/services/web/restart", "POST", nil, authFor(p), *postConc, time.Second, *postDur)
		r.rss = peakRSS(p.pid)
		record("POST restart", p, r)
	}
	for _, p := range paths {
		log.Printf("upload %d bytes via %s", *uploadSize, p.name)
		resetPeak(p.pid)
		r := upload(p.base+p.prefix+"/apps/myapp/objects/tmp/big.tgz", authFor(p), *uploadSize)
		r.rss = peakRSS(p.pid)
		record("1 GiB upload", p, r)
	}
	for _, p := range paths {
		log.Printf("%d log websockets via %s", *wsCount, p.name)
		resetPeak(p.pid)
		r := websockets(p.base, p.prefix+"/apps/myapp/logs", authFor(p), *wsCount, *wsHold)
		r.rss = peakRSS(p.pid)
		record(fmt.Sprintf("%d log websockets", *wsCount), p, r)
	}

	for _, wl := range []string{"GET /apps", "POST restart", "1 GiB upload", fmt.Sprintf("%d log websockets", *wsCount)} {
		d, b := results[wl]["direct"], results[wl]["bare-proxy"]
		for _, p := range paths {
			r := results[wl][p.name]
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", wl, p.name, r.summary(), ms(r.p50), ms(r.p99),
				ratio(r.rate, d.rate), ratio(r.rate, b.rate), mib(r.rss), r.errors)
		}
	}
	w.Flush()
	fmt.Fprintf(&report, "\nmachine: %d CPUs; each server is its own process; the load generator is this process.\n", numCPU())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report.String()), 0o644); err != nil {
			log.Print(err)
		}
	}
}

func run(env []string, bin string, args ...string) string {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.Output()
	if err != nil {
		log.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(b)
}

func basicB64() string { return base64.StdEncoding.EncodeToString([]byte("convox:" + rackPassword)) }
