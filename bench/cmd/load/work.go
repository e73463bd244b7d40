package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// result is one workload on one path.
type result struct {
	ran      bool
	unit     string // "req/s", "MB/s", "frames/s"
	rate     float64
	ops      int64 // requests (HTTP), bytes (upload), frames (websockets)
	p50, p99 time.Duration
	errors   int64
	firstErr string
	elapsed  time.Duration // measured window
	cpu      time.Duration // server-process CPU during the measured window
	dbCPU    time.Duration // the database server's CPU during the measured window (PostgreSQL paths)
	rss      int64         // server-process peak RSS during the workload (VmHWM)
	note     string
	h        *hist     // HTTP loads: latencies, merged over rounds
	perRound []float64 // each round's rate, in round order (HTTP loads, uploads)
}

// add merges another round of the same load (HTTP or upload) into r.
func (r *result) add(o result) {
	if !r.ran {
		*r = o
		r.perRound = []float64{o.rate}
		return
	}
	r.perRound = append(r.perRound, o.rate)
	r.ops += o.ops
	r.errors += o.errors
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.dbCPU += o.dbCPU
	if r.h == nil { // uploads: bytes over the summed transfer times
		r.rate = float64(r.ops) / 1e6 / r.elapsed.Seconds()
		r.note = fmt.Sprintf("%d uploads, %.2fs each", len(r.perRound), r.elapsed.Seconds()/float64(len(r.perRound)))
		return
	}
	r.h.merge(o.h)
	r.rate = float64(r.h.n) / r.elapsed.Seconds()
	r.p50, r.p99 = r.h.quantile(0.50), r.h.quantile(0.99)
}

const tick = 10 * time.Millisecond // USER_HZ = 100

type errBox struct {
	once sync.Once
	msg  string
}

func (e *errBox) set(format string, a ...any) {
	e.once.Do(func() { e.msg = fmt.Sprintf(format, a...) })
}

// httpLoad is a closed-loop load: conc workers on conc keep-alive
// connections send requests back to back; warm-up first, then the measured
// window. Only 2xx responses count; others are errors.
type httpLoad struct {
	method, url, contentType, auth string
	body                           []byte
	conc                           int
	warm, dur                      time.Duration
	pids                           procs // server processes to watch
	db                             procs // the database server, reported apart (none: nil)
}

func (l httpLoad) run() result {
	tr := &http.Transport{
		MaxIdleConns: l.conc, MaxIdleConnsPerHost: l.conc, MaxConnsPerHost: l.conc,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		stop, measuring atomic.Bool
		errs            atomic.Int64
		eb              errBox
		wg              sync.WaitGroup
	)
	hists := make([]*hist, l.conc)
	for i := range l.conc {
		hists[i] = &hist{}
		wg.Add(1)
		go func(h *hist) {
			defer wg.Done()
			for !stop.Load() {
				req, _ := http.NewRequest(l.method, l.url, bytes.NewReader(l.body))
				if l.body == nil {
					req.Body, req.ContentLength = nil, 0
				}
				req.Header.Set("Authorization", l.auth)
				req.Header.Set("User-Agent", "convox.go/dev")
				req.Header.Set("Accept", "*/*")
				if l.contentType != "" {
					req.Header.Set("Content-Type", l.contentType)
				}
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var head []byte
					if resp.StatusCode/100 != 2 {
						head, _ = io.ReadAll(io.LimitReader(resp.Body, 200))
						err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(head)))
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t)
				if !measuring.Load() || stop.Load() {
					if err != nil {
						eb.set("%v", err)
						time.Sleep(10 * time.Millisecond) // do not spin on a dead server
					}
					continue
				}
				if err != nil {
					errs.Add(1)
					eb.set("%v", err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				h.record(d)
			}
		}(hists[i])
	}
	time.Sleep(l.warm)
	measuring.Store(true)
	c0, d0, t0 := cpuTicks(l.pids), cpuTicks(l.db), time.Now()
	time.Sleep(l.dur)
	stop.Store(true)
	elapsed, c1, d1 := time.Since(t0), cpuTicks(l.pids), cpuTicks(l.db)
	wg.Wait()
	all := &hist{}
	for _, h := range hists {
		all.merge(h)
	}
	return result{ran: true, unit: "req/s", rate: float64(all.n) / elapsed.Seconds(), ops: int64(all.n),
		p50: all.quantile(0.50), p99: all.quantile(0.99), errors: errs.Load(), firstErr: eb.msg,
		elapsed: elapsed, cpu: time.Duration(c1-c0) * tick, dbCPU: time.Duration(d1-d0) * tick, h: all}
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

// upload streams size bytes in one POST with a Content-Length, like
// `convox deploy` sending its source tarball.
func upload(url, auth string, size int64, pid procs) result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, io.LimitReader(&pattern{}, size))
	req.ContentLength = size
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("User-Agent", "convox.go/dev")
	tr := &http.Transport{DisableCompression: true, WriteBufferSize: 256 << 10}
	defer tr.CloseIdleConnections()
	r := result{ran: true, unit: "MB/s"}
	c0, t0 := cpuTicks(pid), time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		r.errors, r.firstErr = 1, err.Error()
		return r
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	r.elapsed, r.cpu = time.Since(t0), time.Duration(cpuTicks(pid)-c0)*tick
	var obj struct{ Url string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &obj) != nil || !strings.HasSuffix(obj.Url, "/tmp/big.tgz") {
		r.errors, r.firstErr = 1, fmt.Sprintf("status %d: %.200s", resp.StatusCode, body)
		return r
	}
	r.ops = size
	r.rate = float64(size) / 1e6 / r.elapsed.Seconds()
	r.note = fmt.Sprintf("%.2fs", r.elapsed.Seconds())
	return r
}

// websockets holds n follow-mode log websockets open for hold and counts
// the frames that arrive meanwhile.
func websockets(base, path, auth string, n int, hold time.Duration, pid procs) result {
	wsURL := "ws" + strings.TrimPrefix(base, "http") + path
	dialer := &websocket.Dialer{HandshakeTimeout: 20 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	header := http.Header{
		"Authorization": {auth}, "Origin": {base}, "User-Agent": {"convox.go/dev"}, "Version": {"dev"},
		"Follow": {"true"}, "Since": {"1m0s"},
	}
	var (
		counting, connected, errs atomic.Int64
		eb                        errBox
		readers                   sync.WaitGroup
		mu                        sync.Mutex
		conns                     []*websocket.Conn
	)
	perConn := make([]atomic.Int64, n)
	fdsBefore := openFDs(pid)
	t0 := time.Now()
	sem := make(chan struct{}, 32) // dials in flight
	var dials sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		dials.Add(1)
		go func(i int) {
			defer dials.Done()
			defer func() { <-sem }()
			c, resp, err := dialer.Dial(wsURL, header)
			if err != nil {
				errs.Add(1)
				if resp != nil {
					eb.set("%v (status %d)", err, resp.StatusCode)
				} else {
					eb.set("%v", err)
				}
				return
			}
			connected.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
					if counting.Load() == 1 {
						perConn[i].Add(1)
					}
				}
			}()
		}(i)
	}
	dials.Wait()
	dialTime := time.Since(t0)
	c0 := cpuTicks(pid)
	counting.Store(1)
	time.Sleep(hold)
	counting.Store(2)
	c1 := cpuTicks(pid)
	var frames, minFrames int64 = 0, -1
	for i := range perConn {
		f := perConn[i].Load()
		frames += f
		if minFrames < 0 || f < minFrames {
			minFrames = f
		}
	}
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	readers.Wait()
	// Did the proxy let go of both sides? Give it up to 3 s.
	fdsAfter := openFDs(pid)
	for i := 0; i < 30 && len(pid) > 0 && fdsAfter > fdsBefore+2; i++ {
		time.Sleep(100 * time.Millisecond)
		fdsAfter = openFDs(pid)
	}
	r := result{ran: true, unit: "frames/s", rate: float64(frames) / hold.Seconds(), ops: frames,
		errors: errs.Load(), firstErr: eb.msg, elapsed: hold, cpu: time.Duration(c1-c0) * tick}
	r.note = fmt.Sprintf("%d/%d connected in %.1fs; min %d frames/socket", connected.Load(), n, dialTime.Seconds(), minFrames)
	if len(pid) > 0 {
		r.note += fmt.Sprintf("; fds %d→%d", fdsBefore, fdsAfter)
	}
	return r
}
