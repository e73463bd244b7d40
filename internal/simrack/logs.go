package simrack

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// logOptions are the rack's LogsOptions headers.
type logOptions struct {
	follow bool          // Follow, default true on v3 racks
	prefix bool          // Prefix: "<time> <source> " before each line
	since  time.Duration // Since, default 2m
	filter string        // Filter: substring match
	tail   int           // Tail: last N history lines (0 = all)
}

func parseLogOptions(c *ctx, prefixDefault bool) (logOptions, error) {
	var o logOptions
	v, ok := c.header("Follow")
	o.follow = optBool(v, ok, true)
	v, ok = c.header("Prefix")
	o.prefix = optBool(v, ok, prefixDefault)
	v, ok = c.header("Since")
	since, err := optDuration(v, ok, 2*time.Minute)
	if err != nil {
		return o, err
	}
	o.since = since
	o.filter, _ = c.header("Filter")
	tail, err := optInt(c.header("Tail"))
	if err != nil {
		return o, err
	}
	if tail != nil {
		o.tail = *tail
	}
	return o, nil
}

// logLine is one simulated log line.
type logLine struct {
	at     time.Time
	source string // e.g. "service/web/web-5d8f9c7b6b-x2x7k"
	msg    string
}

func (l logLine) format(prefix bool) string {
	if prefix {
		return fmt.Sprintf("%s %s %s\n", l.at.UTC().Format(time.RFC3339), l.source, l.msg)
	}
	return l.msg + "\n"
}

// logProc is a process whose logs are simulated.
type logProc struct {
	id, service, port string
}

// processHistory is each process's deterministic recent output, relative
// to now (all within the default Since of 2m).
func processHistory(now time.Time, ps []logProc) []logLine {
	var out []logLine
	for i, p := range ps {
		src := fmt.Sprintf("service/%s/%s", p.service, p.id)
		skew := time.Duration(i) * time.Second
		var msgs []struct {
			ago time.Duration
			msg string
		}
		if p.port != "" {
			msgs = append(msgs, []struct {
				ago time.Duration
				msg string
			}{
				{110 * time.Second, "Listening on 0.0.0.0:" + p.port},
				{80 * time.Second, "GET / 200 12ms"},
				{50 * time.Second, "GET /health 200 1ms"},
				{20 * time.Second, "POST /login 302 45ms"},
			}...)
		} else {
			msgs = append(msgs, []struct {
				ago time.Duration
				msg string
			}{
				{100 * time.Second, "Worker started (queue=default)"},
				{40 * time.Second, "Processed job 1 in 0.5s"},
			}...)
		}
		for _, m := range msgs {
			out = append(out, logLine{at: now.Add(-m.ago + skew), source: src, msg: m.msg})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// processLive is the n-th followed line.
func processLive(ps []logProc, n int) logLine {
	p := ps[n%len(ps)]
	msg := fmt.Sprintf("Processed job %d", n+2)
	if p.port != "" {
		msg = fmt.Sprintf("GET /health 200 1ms (request %d)", n+1)
	}
	return logLine{at: time.Now(), source: fmt.Sprintf("service/%s/%s", p.service, p.id), msg: msg}
}

// logProcs lists the app's processes matching service/pid ("" = any).
func (r *Rack) logProcs(app, service, pid string) ([]logProc, error) {
	v, err := r.withApp(app, func(a *appState) (any, error) {
		if service != "" {
			if _, err := a.service(service); err != nil {
				return nil, err
			}
		}
		if pid != "" {
			if _, err := a.process(pid); err != nil {
				return nil, err
			}
		}
		var out []logProc
		for _, p := range a.processes {
			if (service != "" && p.Name != service) || (pid != "" && p.Id != pid) {
				continue
			}
			port := ""
			if len(p.Ports) > 0 {
				port = p.Ports[0]
			}
			out = append(out, logProc{id: p.Id, service: p.Name, port: port})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]logProc), nil
}

// streamLogs writes history (filtered by Since, Filter, Tail) and, with
// Follow, one live line per followInterval until the client sends its empty
// binary frame or hangs up.
func (r *Rack) streamLogs(c *ctx, o logOptions, history []logLine, live func(n int) (logLine, bool)) error {
	stop := c.ws.untilEOF()
	cutoff := time.Now().Add(-o.since)
	var lines []logLine
	for _, l := range history {
		if l.at.Before(cutoff) || (o.filter != "" && !strings.Contains(l.msg, o.filter)) {
			continue
		}
		lines = append(lines, l)
	}
	if o.tail > 0 && len(lines) > o.tail {
		lines = lines[len(lines)-o.tail:]
	}
	for _, l := range lines {
		if _, err := c.Write([]byte(l.format(o.prefix))); err != nil {
			return err
		}
	}
	if !o.follow {
		return nil
	}
	t := time.NewTicker(r.followInterval)
	defer t.Stop()
	for n := 0; ; {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		l, ok := live(n)
		n++
		if !ok || (o.filter != "" && !strings.Contains(l.msg, o.filter)) {
			continue
		}
		if _, err := c.Write([]byte(l.format(o.prefix))); err != nil {
			return nil // client gone
		}
	}
}

// appLogs is the app log socket; appLogs, serviceLogs and processLogs share
// the process log simulation.
func (r *Rack) appLogs(c *ctx) error {
	return r.processLogStream(c, c.Var("name"), "", "", true)
}

func (r *Rack) serviceLogs(c *ctx) error {
	return r.processLogStream(c, c.Var("app"), c.Var("service"), "", true)
}

func (r *Rack) processLogs(c *ctx) error {
	return r.processLogStream(c, c.Var("app"), "", c.Var("pid"), false)
}

func (r *Rack) processLogStream(c *ctx, app, service, pid string, prefixDefault bool) error {
	o, err := parseLogOptions(c, prefixDefault)
	if err != nil {
		return err
	}
	ps, err := r.logProcs(app, service, pid)
	if err != nil {
		return err
	}
	return r.streamLogs(c, o, processHistory(time.Now(), ps), func(n int) (logLine, bool) {
		if len(ps) == 0 {
			return logLine{}, false
		}
		return processLive(ps, n), true
	})
}

// systemLogs is `convox rack logs`.
func (r *Rack) systemLogs(c *ctx) error {
	o, err := parseLogOptions(c, true)
	if err != nil {
		return err
	}
	v, _ := r.with(func(s *state) (any, error) { return s.system.Version, nil })
	now := time.Now()
	src := "system/k8s/api-7c9d8f6b5d-k2m4p"
	history := []logLine{
		{now.Add(-115 * time.Second), src, "ns=api at=start version=" + v.(string)},
		{now.Add(-90 * time.Second), "system/k8s/atom", "ns=atom at=reconcile app=myapp status=running"},
		{now.Add(-60 * time.Second), src, "ns=api at=request method=GET path=/apps response=200"},
		{now.Add(-30 * time.Second), "system/k8s/router", "ns=router at=sync hosts=3"},
		{now.Add(-10 * time.Second), src, "ns=api at=request method=GET path=/system response=200"},
	}
	return r.streamLogs(c, o, history, func(n int) (logLine, bool) {
		return logLine{at: time.Now(), source: src, msg: fmt.Sprintf("ns=api at=heartbeat n=%d", n+1)}, true
	})
}
