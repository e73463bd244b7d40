package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// result is one workload on one path.
type result struct {
	kind     string // "rps", "MB/s", "frames/s"
	rate     float64
	p50, p99 time.Duration
	errors   int64
	rss      int64 // bytes, peak during the workload; 0 if not measured
	note     string
}

func (r result) summary() string {
	s := fmt.Sprintf("%.0f %s", r.rate, r.kind)
	if r.note != "" {
		s += " " + r.note
	}
	return s
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d)/1e6)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func numCPU() int { return runtime.NumCPU() }

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
}

// loadHTTP runs conc workers sending requests back to back: warm-up first,
// then the measured window.
func loadHTTP(url, method string, body []byte, auth string, conc int, warm, dur time.Duration) result {
	client := newClient(conc)
	var (
		stop     atomic.Bool
		measured atomic.Bool
		errs     atomic.Int64
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, conc)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buf := make([]time.Duration, 0, 1<<16)
			for !stop.Load() {
				req, _ := http.NewRequest(method, url, bytes.NewReader(body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("User-Agent", "convox.go/dev")
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				d := time.Since(t)
				if !measured.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				buf = append(buf, d)
			}
			lat[i] = buf
		}(i)
	}
	time.Sleep(warm)
	measured.Store(true)
	t0 := time.Now()
	time.Sleep(dur)
	stop.Store(true)
	elapsed := time.Since(t0)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{kind: "req/s", rate: float64(len(all)) / elapsed.Seconds(), errors: errs.Load()}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

// pattern is an endless non-zero byte stream that costs one memmove per
// read, so the generator does not compete with the servers for CPU.
type pattern struct{ off int }

var patternBuf = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], patternBuf[p.off:])
		n += c
		p.off = (p.off + c) % len(patternBuf)
	}
	return n, nil
}

func upload(url, auth string, size int64) result {
	req, _ := http.NewRequest("POST", url, io.LimitReader(&pattern{}, size))
	req.ContentLength = size
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/octet-stream")
	t := time.Now()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, WriteBufferSize: 256 << 10}}
	resp, err := client.Do(req)
	r := result{kind: "MB/s"}
	if err != nil {
		log.Printf("upload: %v", err)
		r.errors = 1
		return r
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if resp.StatusCode != 200 {
		r.errors = 1
	}
	r.rate = float64(size) / 1e6 / d.Seconds()
	r.p50 = d
	r.note = fmt.Sprintf("(%.1fs)", d.Seconds())
	return r
}

// websockets holds n follow-mode log sockets open and counts frames.
func websockets(base, path, auth string, n int, hold time.Duration) result {
	wsURL := "ws" + strings.TrimPrefix(base, "http") + path
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	var (
		frames, errs atomic.Int64
		wg           sync.WaitGroup
		conns        = make([]*websocket.Conn, n)
	)
	h := func() map[string][]string {
		return map[string][]string{"Authorization": {auth}, "Origin": {base}, "Follow": {"true"}, "Since": {"1m0s"}}
	}
	for i := 0; i < n; i++ {
		c, _, err := dialer.Dial(wsURL, h())
		if err != nil {
			errs.Add(1)
			continue
		}
		conns[i] = c
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				frames.Add(1)
			}
		}(c)
	}
	connected := int64(n) - errs.Load()
	start := frames.Load()
	time.Sleep(hold)
	got := frames.Load() - start
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	wg.Wait()
	return result{kind: "frames/s", rate: float64(got) / hold.Seconds(), errors: errs.Load(),
		note: fmt.Sprintf("(%d/%d connected)", connected, n)}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(url string) {
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("%s did not come up", url)
}

// resetPeak resets the kernel's peak-RSS counter (VmHWM) of pid.
func resetPeak(pid int) {
	if pid != 0 {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// peakRSS reads VmHWM of pid (and, for nginx, of its workers) in bytes.
func peakRSS(pid int) int64 {
	if pid == 0 {
		return 0
	}
	total := hwm(pid)
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, k := range strings.Fields(string(kids)) {
			if kp, err := strconv.Atoi(k); err == nil {
				total += hwm(kp)
			}
		}
	}
	return total
}

func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func nginxConf(dir, listen, rack string) string {
	conf := fmt.Sprintf(`worker_processes auto;
error_log %[1]s/nginx-error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  client_max_body_size 0;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream rack { server %[3]s; keepalive 256; }
  server {
    listen %[2]s;
    location / {
      proxy_pass http://rack;
      proxy_http_version 1.1;
      proxy_set_header Host %[3]s;
      proxy_set_header Origin http://%[3]s;
      proxy_set_header Authorization "Basic %[4]s";
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
    }
  }
}
`, dir, listen, rack, basicB64())
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		log.Fatal(err)
	}
	return p
}
