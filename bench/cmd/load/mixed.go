package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mixedLoad is the crash test's load (bench/crash.sh): GETs, POST releases
// and 1 KiB object POSTs at once against one path for dur. Every
// acknowledged (2xx) mutating call is written to the ack log as
// "METHOD PATH REQUEST_ID" — the gateway's X-Request-Id — so that the audit
// log can be checked for each afterwards. Failures are counted, not hidden:
// by kind, and per second of the run.
type mixedLoad struct {
	base, auth              string
	getConc, postConc       int // workers: GETs; each POST kind
	dur                     time.Duration
	build                   string
	object                  []byte
	ackLog                  io.Writer
	mu                      sync.Mutex // guards ackLog, fails, timeline
	fails                   map[string]int64
	okTimeline, badTimeline map[int]int64 // second of the run → responses
	acked, okGets           atomic.Int64
	missingID               atomic.Int64 // 2xx mutating answers without X-Request-Id
}

type mixedReq struct {
	kind, method, path, contentType string
	body                            []byte
}

func (m *mixedLoad) run() string {
	m.fails = map[string]int64{}
	m.okTimeline, m.badTimeline = map[int]int64{}, map[int]int64{}
	conc := m.getConc + 2*m.postConc
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	reqs := []mixedReq{
		{kind: "get", method: "GET", path: "/apps"},
		{kind: "release", method: "POST", path: "/apps/myapp/releases", contentType: "application/x-www-form-urlencoded",
			body: []byte("build=" + m.build)},
		{kind: "object", method: "POST", path: "/apps/myapp/objects/tmp/k", contentType: "application/octet-stream", body: m.object},
	}
	start := time.Now()
	deadline := start.Add(m.dur)
	var wg sync.WaitGroup
	worker := func(q mixedReq) {
		defer wg.Done()
		for time.Now().Before(deadline) {
			if !m.one(client, q, start) {
				time.Sleep(10 * time.Millisecond) // do not spin on a dead server
			}
		}
	}
	for range m.getConc {
		wg.Add(1)
		go worker(reqs[0])
	}
	for range m.postConc {
		wg.Add(2)
		go worker(reqs[1])
		go worker(reqs[2])
	}
	wg.Wait()
	return m.summary(time.Since(start))
}

// one sends one request and records it; false when it failed.
func (m *mixedLoad) one(client *http.Client, q mixedReq, start time.Time) bool {
	req, _ := http.NewRequest(q.method, m.base+q.path, bytes.NewReader(q.body))
	if q.body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header.Set("Authorization", m.auth)
	req.Header.Set("User-Agent", "convox.go/dev")
	if q.contentType != "" {
		req.Header.Set("Content-Type", q.contentType)
	}
	resp, err := client.Do(req)
	sec := int(time.Since(start) / time.Second)
	fail := ""
	switch {
	case err != nil:
		fail = fmt.Sprintf("%s: %s", q.kind, errKind(err))
	case resp.StatusCode/100 != 2:
		fail = fmt.Sprintf("%s: status %d", q.kind, resp.StatusCode)
	}
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fail != "" {
		m.fails[fail]++
		m.badTimeline[sec]++
		return false
	}
	m.okTimeline[sec]++
	if q.method == "GET" {
		m.okGets.Add(1)
		return true
	}
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		m.missingID.Add(1)
		return true
	}
	m.acked.Add(1)
	fmt.Fprintf(m.ackLog, "%s %s %s\n", q.method, q.path, id)
	return true
}

// errKind shortens a client error to its cause, without addresses or
// ports, so that equal failures count together.
func errKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset by peer", "EOF", "broken pipe", "timeout", "Client.Timeout"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}

func (m *mixedLoad) summary(elapsed time.Duration) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	var failed int64
	kinds := make([]string, 0, len(m.fails))
	for k, n := range m.fails {
		kinds = append(kinds, k)
		failed += n
	}
	sort.Strings(kinds)
	total := failed + m.acked.Load() + m.okGets.Load() + m.missingID.Load()
	fmt.Fprintf(&b, "mixed load: %d requests in %.1fs (%d GET workers, %d POST releases, %d POST 1 KiB objects)\n",
		total, elapsed.Seconds(), m.getConc, m.postConc, m.postConc)
	fmt.Fprintf(&b, "  succeeded: %d GETs, %d acknowledged mutating calls (2xx, request id logged)\n", m.okGets.Load(), m.acked.Load())
	fmt.Fprintf(&b, "  acknowledged mutating calls without X-Request-Id: %d\n", m.missingID.Load())
	fmt.Fprintf(&b, "  failed client requests: %d (%.3f%%)\n", failed, 100*float64(failed)/float64(max(total, 1)))
	for _, k := range kinds {
		fmt.Fprintf(&b, "    %-40s %d\n", k, m.fails[k])
	}
	last := int(elapsed / time.Second)
	fmt.Fprintf(&b, "  per second (ok/failed):")
	for s := 0; s <= last; s++ {
		if s%10 == 0 {
			fmt.Fprintf(&b, "\n   %3ds", s)
		}
		fmt.Fprintf(&b, " %d/%d", m.okTimeline[s], m.badTimeline[s])
	}
	b.WriteString("\n")
	return b.String()
}

// runMixed is the -mixed mode: the first path only, acks to -ack-log.
func runMixed(p pathSpec, kb []byte) {
	f, err := os.Create(*ackLog)
	if err != nil {
		log.Fatalf("%v", err)
	}
	w := bufio.NewWriter(f)
	m := &mixedLoad{base: p.base + p.prefix, auth: p.auth, getConc: *mixedGets, postConc: *mixedPosts, dur: *mixed,
		build: *build, object: kb, ackLog: w}
	sum := m.run()
	if err := w.Flush(); err != nil {
		log.Fatalf("ack log: %v", err)
	}
	if err := f.Close(); err != nil {
		log.Fatalf("ack log: %v", err)
	}
	fmt.Print(sum)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(sum), 0o644); err != nil {
			log.Fatalf("%v", err)
		}
	}
}
