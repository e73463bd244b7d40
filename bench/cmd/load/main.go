// Command load is the load generator of the bench harness: it runs the same
// workloads against each path to the rack (direct, bare ReverseProxy, nginx,
// rack-gateway) one after the other and prints throughput, latency
// percentiles, ratios and each server process's CPU and peak RSS.
//
// bench/run.sh starts the servers (each its own process) and calls it; see
// bench/README.md. A path is given as
//
//	-path NAME,URL,PID,SECRET_ENV[,WORKLOADS]
//
// URL includes any path prefix (http://127.0.0.1:8447/rack), PID is the
// server process watched for CPU and RSS (0: none; "P1+P2" sums several, e.g.
// two gateway replicas and their balancer; a "/db:P" suffix names the
// database server, whose CPU is reported apart in the notes), SECRET_ENV names the
// environment variable holding the Basic password the client sends (the
// rack password, or the gateway token), WORKLOADS is "all" (default) or a
// "+"-separated subset of get, release, object, upload, ws.
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

type pathSpec struct {
	name, base, prefix string
	pids               procs // server processes (CPU and RSS summed)
	db                 procs // database server: its CPU is reported apart
	auth               string
	workloads          map[string]bool // nil: all
}

type pathList []pathSpec

func (p *pathList) String() string { return fmt.Sprint(len(*p), " paths") }
func (p *pathList) Set(s string) error {
	f := strings.Split(s, ",")
	if len(f) < 4 || len(f) > 5 {
		return fmt.Errorf("want NAME,URL,PID,SECRET_ENV[,WORKLOADS], got %q", s)
	}
	u, err := url.Parse(f[1])
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad URL %q", f[1])
	}
	pidField, dbField, _ := strings.Cut(f[2], "/db:")
	pids, err := parseProcs(pidField)
	if err != nil {
		return err
	}
	var db procs
	if dbField != "" {
		if db, err = parseProcs(dbField); err != nil {
			return err
		}
	}
	secret := os.Getenv(f[3])
	if secret == "" {
		return fmt.Errorf("environment variable %s is empty", f[3])
	}
	ps := pathSpec{name: f[0], base: u.Scheme + "://" + u.Host, prefix: strings.TrimSuffix(u.Path, "/"), pids: pids, db: db,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+secret))}
	if len(f) == 5 && f[4] != "all" {
		ps.workloads = map[string]bool{}
		for _, w := range strings.Split(f[4], "+") {
			ps.workloads[w] = true
		}
	}
	*p = append(*p, ps)
	return nil
}

func (p pathSpec) runs(w string) bool { return p.workloads == nil || p.workloads[w] }

type strList []string

func (s *strList) String() string     { return strings.Join(*s, "; ") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

var (
	paths      pathList
	notes      strList
	workloads  = flag.String("workloads", "get,release,object,upload,ws", "workloads to run, comma-separated")
	getConc    = flag.Int("get-concurrency", 64, "connections for the GET workload")
	getWarm    = flag.Duration("get-warmup", time.Second, "warm-up before each GET measurement")
	getDur     = flag.Duration("get-duration", 32*time.Second, "measured time of the GET workload per path (split over -get-rounds)")
	getRounds  = flag.Int("get-rounds", 8, "GET workload: rounds per path, in alternating path order (ABBA)")
	postConc   = flag.Int("post-concurrency", 64, "connections for the POST workloads")
	postWarm   = flag.Duration("post-warmup", time.Second, "warm-up before each POST measurement")
	postDur    = flag.Duration("post-duration", 8*time.Second, "measured time of each POST workload per path (split over -rounds)")
	rounds     = flag.Int("rounds", 4, "POST workloads: rounds per path, in alternating path order (ABBA) so that drift cancels")
	uploadSize = flag.Int64("upload-bytes", 1<<30, "size of the upload")
	uploadRnds = flag.Int("upload-rounds", 3, "uploads per path, in alternating path order (ABBA)")
	wsCount    = flag.Int("websockets", 500, "concurrent log websockets")
	wsHold     = flag.Duration("ws-hold", 10*time.Second, "how long the websockets stay open")
	build      = flag.String("build", "BMYAPPSECND", "build id for POST /apps/myapp/releases (a seeded simrack build)")
	out        = flag.String("out", "", "also write the report to this file")
	direct     = flag.String("direct", "direct", "name of the path the 'vs direct' column divides by")
	bare       = flag.String("bare", "bare-proxy", "name of the path the 'vs bare' column divides by")
	gwName     = flag.String("gateway", "gateway", "name of the gateway path (checked against the targets)")
	moreGWs    = flag.String("more-gateways", "gateway-pg,gateway-pg-2", "further gateway paths checked against the request targets, comma-separated")
	onlyPaths  = flag.String("paths", "", "run only these paths (comma-separated names; empty: every -path)")
	mixed      = flag.Duration("mixed", 0, "crash-test mode: GETs, POST releases and 1 KiB objects at once against the first path for this long (bench/crash.sh)")
	mixedGets  = flag.Int("mixed-get-concurrency", 16, "-mixed: GET workers")
	mixedPosts = flag.Int("mixed-post-concurrency", 8, "-mixed: workers for each POST kind")
	ackLog     = flag.String("ack-log", "acks.txt", "-mixed: file of acknowledged mutating calls, one \"METHOD PATH REQUEST_ID\" a line")
	quick      = flag.Bool("quick", false, "validation run: 2 rounds of everything, shorter windows, 1 upload, 5 s websockets (flags given explicitly win)")
)

type workload struct {
	key    string
	http   bool // closed-loop HTTP load (runs after the upload and the websockets)
	rounds int  // runs per path, in alternating path order (ABBA)
	title  string
	run    func(p pathSpec) result
}

func main() {
	flag.Var(&paths, "path", "NAME,URL,PID,SECRET_ENV[,WORKLOADS] (repeatable)")
	flag.Var(&notes, "note", "a line printed above the table (repeatable)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *quick {
		applyQuick()
	}
	if *onlyPaths != "" {
		var err error
		if paths, err = selectPaths(paths, *onlyPaths); err != nil {
			log.Fatal(err)
		}
	}
	if len(paths) == 0 {
		log.Fatal("no -path given")
	}
	kb := make([]byte, 1024)
	for i := range kb {
		kb[i] = byte('a' + i%26)
	}
	if *mixed > 0 {
		runMixed(paths[0], kb)
		return
	}
	getN, postN, uploadN := max(*getRounds, 1), max(*rounds, 1), max(*uploadRnds, 1)
	all := []workload{
		{"get", true, getN, fmt.Sprintf("GET /apps (%d conns)", *getConc), func(p pathSpec) result {
			return httpLoad{method: "GET", url: p.base + p.prefix + "/apps", auth: p.auth,
				conc: *getConc, warm: *getWarm, dur: *getDur / time.Duration(getN), pids: p.pids, db: p.db}.run()
		}},
		{"release", true, postN, fmt.Sprintf("POST releases (%d conns)", *postConc), func(p pathSpec) result {
			return httpLoad{method: "POST", url: p.base + p.prefix + "/apps/myapp/releases", auth: p.auth,
				body: []byte("build=" + *build), contentType: "application/x-www-form-urlencoded",
				conc: *postConc, warm: *postWarm, dur: *postDur / time.Duration(postN), pids: p.pids, db: p.db}.run()
		}},
		{"object", true, postN, fmt.Sprintf("POST 1 KiB object (%d conns)", *postConc), func(p pathSpec) result {
			return httpLoad{method: "POST", url: p.base + p.prefix + "/apps/myapp/objects/tmp/k", auth: p.auth,
				body: kb, contentType: "application/octet-stream",
				conc: *postConc, warm: *postWarm, dur: *postDur / time.Duration(postN), pids: p.pids, db: p.db}.run()
		}},
		{"upload", false, uploadN, fmt.Sprintf("%s upload", size(*uploadSize)), func(p pathSpec) result {
			return upload(p.base+p.prefix+"/apps/myapp/objects/tmp/big.tgz", p.auth, *uploadSize, p.pids)
		}},
		{"ws", false, 1, fmt.Sprintf("%d log websockets", *wsCount), func(p pathSpec) result {
			return websockets(p.base, p.prefix+"/apps/myapp/logs", p.auth, *wsCount, *wsHold, p.pids)
		}},
	}
	want := map[string]bool{}
	for _, w := range strings.Split(*workloads, ",") {
		want[strings.TrimSpace(w)] = true
	}

	baseRSS := map[string]int64{}
	for _, p := range paths {
		baseRSS[p.name] = curRSS(p.pids)
	}
	results := map[string]map[string]result{}
	var ran []workload
	// The upload and the websockets run first, while the simulated rack
	// (which keeps recent requests in memory) is still small; the table keeps
	// the order of `all`. Rounds alternate the path order to cancel drift.
	var order []workload
	for _, w := range all {
		if want[w.key] {
			ran = append(ran, w)
			if !w.http {
				order = append(order, w)
			}
		}
	}
	for _, w := range ran {
		if w.http {
			order = append(order, w)
		}
	}
	for _, w := range order {
		results[w.key] = map[string]result{}
		var ps []pathSpec
		for _, p := range paths {
			if p.runs(w.key) {
				ps = append(ps, p)
				resetPeak(p.pids)
			}
		}
		n := w.rounds
		for round := range n {
			for i := range ps {
				p := ps[i]
				if round%2 == 1 {
					p = ps[len(ps)-1-i]
				}
				if !alive(p.pids) {
					log.Fatalf("%s (pids %v) is gone", p.name, p.pids)
				}
				r := w.run(p)
				if r.errors > 0 {
					log.Printf("  %d errors, first: %s", r.errors, r.firstErr)
				}
				log.Printf("%-28s %-13s round %d/%d: %.0f %s  p50 %s  p99 %s", w.title, p.name, round+1, n, r.rate, r.unit, ms(r.p50), ms(r.p99))
				acc := results[w.key][p.name]
				acc.add(r)
				results[w.key][p.name] = acc
			}
		}
		for _, p := range ps {
			r := results[w.key][p.name]
			r.rss = peakRSS(p.pids)
			results[w.key][p.name] = r
		}
	}

	var rep strings.Builder
	wr := io.MultiWriter(os.Stdout, &rep)
	fmt.Fprintf(wr, "\n")
	for _, n := range notes {
		fmt.Fprintln(wr, n)
	}
	fmt.Fprintf(wr, "load generator: %s, GOMAXPROCS %d, %d CPUs\n\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	tw := tabwriter.NewWriter(wr, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tpath\tthroughput\tp50\tp99\tvs direct\tvs bare\tserver CPU\tpeak RSS\terrors\tnotes\n")
	for _, w := range ran {
		d, b := results[w.key][*direct], results[w.key][*bare]
		for _, p := range paths {
			r, ok := results[w.key][p.name]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", w.title, p.name, rateStr(r), ms(r.p50), ms(r.p99),
				ratio(r, d), ratio(r, b), cpuStr(r), mib(r.rss), r.errors, noteStr(r))
		}
	}
	tw.Flush()

	fmt.Fprintf(wr, "\nRSS at start (before any load): ")
	for i, p := range paths {
		if i > 0 {
			fmt.Fprint(wr, ", ")
		}
		fmt.Fprintf(wr, "%s %s", p.name, mib(baseRSS[p.name]))
	}
	fmt.Fprintln(wr)
	for _, p := range paths {
		for _, w := range ran {
			if r, ok := results[w.key][p.name]; ok && r.firstErr != "" {
				fmt.Fprintf(wr, "first error, %s via %s: %.300s\n", w.title, p.name, r.firstErr)
			}
		}
	}

	fmt.Fprintf(wr, "\nTargets (%s):\n", strings.Join(gatewayNames(), ", "))
	gw := func(k string) (result, bool) { r, ok := results[k][*gwName]; return r, ok }
	check := func(ok bool, format string, a ...any) {
		v := "PASS"
		if !ok {
			v = "FAIL"
		}
		fmt.Fprintf(wr, "  %s  %s\n", v, fmt.Sprintf(format, a...))
	}
	if g, ok := gw("get"); ok {
		b := results["get"][*bare]
		check(b.rate > 0 && g.rate >= 0.9*b.rate && g.errors == 0,
			"small GETs ≥ 0.90× bare ReverseProxy: %s (%.0f vs %.0f req/s, %d errors)%s", ratio(g, b), g.rate, b.rate, g.errors, roundSpread(g, b))
	}
	for _, name := range gatewayNames() {
		for _, k := range []struct{ key, what string }{{"release", "POST releases"}, {"object", "POST 1 KiB objects"}} {
			g, ok := results[k.key][name]
			if !ok {
				continue
			}
			b := results[k.key][*bare]
			check(b.rate > 0 && g.rate >= 0.9*b.rate && g.errors == 0, "%s: %s ≥ 0.90× bare ReverseProxy (write-ahead audit durable): %s (%.0f vs %.0f req/s, %d errors)%s",
				name, k.what, ratio(g, b), g.rate, b.rate, g.errors, roundSpread(g, b))
		}
		if name == *gwName {
			continue // its GET target is above
		}
		if g, ok := results["get"][name]; ok {
			b := results["get"][*bare]
			check(b.rate > 0 && g.rate >= 0.9*b.rate && g.errors == 0,
				"%s: small GETs ≥ 0.90× bare ReverseProxy: %s (%.0f vs %.0f req/s, %d errors)%s", name, ratio(g, b), g.rate, b.rate, g.errors, roundSpread(g, b))
		}
	}
	if g, ok := gw("upload"); ok {
		d := results["upload"][*direct]
		check(d.rate > 0 && g.rate >= 0.8*d.rate && g.errors == 0, "upload ≥ 0.80× direct: %s (%.0f vs %.0f MB/s)%s", ratio(g, d), g.rate, d.rate, roundSpread(g, d))
		check(g.rss > 0 && g.rss < 64<<20, "upload gateway peak RSS < 64 MiB: %s", mib(g.rss))
	}
	if g, ok := gw("ws"); ok {
		check(g.errors == 0 && g.ops > 0, "all %d log websockets connected and streaming: %s", *wsCount, g.note)
		check(g.rss > 0 && g.rss < 150<<20, "websockets gateway peak RSS < 150 MiB: %s", mib(g.rss))
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(strings.TrimLeft(rep.String(), "\n")), 0o644); err != nil {
			log.Print(err)
		}
	}
}

// roundSpread describes the per-round ratios of r to ref (each round runs
// both paths, so a round's ratio is as free of drift as the ABBA order
// makes it): how much one run's figure can move on this machine.
func roundSpread(r, ref result) string {
	n := min(len(r.perRound), len(ref.perRound))
	if n < 2 {
		return ""
	}
	rs := make([]float64, 0, n)
	for i := range n {
		if ref.perRound[i] > 0 {
			rs = append(rs, r.perRound[i]/ref.perRound[i])
		}
	}
	if len(rs) < 2 {
		return ""
	}
	slices.Sort(rs)
	med := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		med = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return fmt.Sprintf("; per round %.2f–%.2f, median %.2f, over %d rounds", rs[0], rs[len(rs)-1], med, len(rs))
}

// gatewayNames are the gateway paths of this run checked against the
// targets (-gateway first, then -more-gateways).
func gatewayNames() []string {
	names := []string{*gwName}
	for _, n := range strings.Split(*moreGWs, ",") {
		if n = strings.TrimSpace(n); n != "" && n != *gwName {
			names = append(names, n)
		}
	}
	return slices.DeleteFunc(names, func(n string) bool {
		return !slices.ContainsFunc(paths, func(p pathSpec) bool { return p.name == n })
	})
}

// selectPaths keeps the paths named in the comma-separated list, in the
// order they were given as -path; a name that matches no path is an error.
func selectPaths(all pathList, list string) (pathList, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out pathList
	for _, p := range all {
		if want[p.name] {
			out = append(out, p)
			delete(want, p.name)
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("-paths: no path named %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// applyQuick shortens every workload for a validation run, leaving flags
// that were given explicitly as they are.
func applyQuick() {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]string{
		"get-rounds": "2", "get-duration": "6s", "rounds": "2", "post-duration": "4s",
		"upload-rounds": "1", "ws-hold": "5s",
	} {
		if !set[name] {
			_ = flag.Set(name, v)
		}
	}
}

// noteStr is the notes column: the workload's own note, and the database
// server's CPU per request where the path has one.
func noteStr(r result) string {
	if r.dbCPU == 0 || r.ops == 0 || r.unit != "req/s" {
		return r.note
	}
	db := fmt.Sprintf("database %.0fµs/req", float64(r.dbCPU.Microseconds())/float64(r.ops))
	if r.note == "" {
		return db
	}
	return r.note + "; " + db
}

func rateStr(r result) string {
	if !r.ran || (r.rate == 0 && r.errors > 0) {
		return "FAILED"
	}
	return fmt.Sprintf("%.0f %s", r.rate, r.unit)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d)/1e6)
}

func ratio(r, ref result) string {
	if ref.rate == 0 || r.rate == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r.rate/ref.rate)
}

// cpuStr is the server process's CPU cost: per request for HTTP loads, per
// GiB for uploads, as a share of one core for websockets.
func cpuStr(r result) string {
	if r.cpu == 0 || r.ops == 0 {
		return "-"
	}
	switch r.unit {
	case "req/s":
		return fmt.Sprintf("%.0fµs/req", float64(r.cpu.Microseconds())/float64(r.ops))
	case "MB/s":
		return fmt.Sprintf("%.2fs/GiB", r.cpu.Seconds()/(float64(r.ops)/(1<<30)))
	default:
		return fmt.Sprintf("%.0f%% core", 100*r.cpu.Seconds()/r.elapsed.Seconds())
	}
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func size(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d B", b)
}
