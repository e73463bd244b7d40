package siem

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Defaults for WebhookConfig fields left zero.
const (
	DefaultBatchSize     = 500
	DefaultFlushInterval = 2 * time.Second
	DefaultMaxQueue      = 100000
	DefaultTimeout       = 10 * time.Second
)

// Request headers set on every webhook POST.
const (
	// HeaderFirstSeq and HeaderLastSeq carry the first and last Seq in the body.
	HeaderFirstSeq = "X-RGW-First-Seq"
	HeaderLastSeq  = "X-RGW-Last-Seq"
	// HeaderDroppedBeforeSeq and HeaderDroppedCount are set only on the first
	// batch delivered after the sink dropped events: DroppedCount events
	// immediately preceding DroppedBeforeSeq (the batch's first Seq) were
	// lost. The same values are in the first record's "dropped_before_seq"
	// and "dropped_count" fields.
	HeaderDroppedBeforeSeq = "X-RGW-Dropped-Before-Seq"
	HeaderDroppedCount     = "X-RGW-Dropped-Count"
)

const (
	defaultBackoffBase   = 500 * time.Millisecond
	defaultBackoffCap    = 30 * time.Second
	defaultMaxRetryAfter = 5 * time.Minute
	maxDrainBody         = 64 << 10
)

// WebhookConfig configures a Webhook. Zero sizes and durations take the
// defaults.
type WebhookConfig struct {
	// URL receives the POSTs. It must be https://, except that http:// is
	// allowed for loopback hosts (127.0.0.0/8, ::1, localhost). It must not
	// contain user info; put credentials in Headers. Only its host is logged.
	URL string
	// Headers are added to every POST, e.g. Authorization. Their values are
	// never logged.
	Headers map[string]string
	// BatchSize is the most events per POST (default 500). A batch is sent
	// as soon as this many are queued.
	BatchSize int
	// FlushInterval is how often queued events are sent even if fewer than
	// BatchSize are waiting (default 2s).
	FlushInterval time.Duration
	// MaxQueue bounds the events waiting to be sent (default 100000). When
	// it is full the oldest are dropped and counted, and the next batch
	// delivered reports the gap (see HeaderDroppedBeforeSeq).
	MaxQueue int
	// Timeout bounds each POST (default 10s).
	Timeout time.Duration
	// CAFile optionally names a PEM file of CA certificates trusted for the
	// webhook's TLS in addition to the system roots.
	CAFile string
}

// withDefaults returns c with zero fields set to their defaults.
func (c WebhookConfig) withDefaults() WebhookConfig {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks c (after applying defaults) and returns an error naming
// the first bad field. Error messages never include header values.
func (c WebhookConfig) Validate() error {
	if _, err := parseWebhookURL(c.URL); err != nil {
		return err
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			return fmt.Errorf("siem: webhook Headers: invalid header name %q", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "Content-Length", "Host", "Transfer-Encoding":
			return fmt.Errorf("siem: webhook Headers: %s is set by the sink", k)
		}
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Rgw-") {
			return fmt.Errorf("siem: webhook Headers: %s: the X-RGW- prefix is reserved", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("siem: webhook Headers: value of %s contains a control character", k)
		}
	}
	d := c.withDefaults()
	switch {
	case d.BatchSize < 0:
		return fmt.Errorf("siem: webhook BatchSize must be positive, got %d", c.BatchSize)
	case d.FlushInterval < 0:
		return fmt.Errorf("siem: webhook FlushInterval must be positive, got %s", c.FlushInterval)
	case d.MaxQueue < 0:
		return fmt.Errorf("siem: webhook MaxQueue must be positive, got %d", c.MaxQueue)
	case d.MaxQueue < d.BatchSize:
		return fmt.Errorf("siem: webhook MaxQueue (%d) must be at least BatchSize (%d)", d.MaxQueue, d.BatchSize)
	case d.Timeout < 0:
		return fmt.Errorf("siem: webhook Timeout must be positive, got %s", c.Timeout)
	}
	return nil
}

// parseWebhookURL parses and checks a webhook URL.
func parseWebhookURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("siem: webhook URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the URL, which may hold a secret.
		return nil, errors.New("siem: webhook URL is not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("siem: webhook URL must not contain user info; use Headers for credentials")
	}
	if u.Hostname() == "" {
		return nil, errors.New("siem: webhook URL has no host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("siem: webhook URL must be https:// (http:// is allowed only for loopback hosts, not %q)", u.Hostname())
		}
	default:
		return nil, fmt.Errorf("siem: webhook URL scheme must be https, got %q", u.Scheme)
	}
	return u, nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHeaderName reports whether s is a valid HTTP header field name (token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Stats is a snapshot of a Webhook's counters.
type Stats struct {
	Sent        int64     // events delivered (2xx)
	Dropped     int64     // events lost: queue overflow, rejected batches, abandoned at Close
	Rejected    int64     // of Dropped, events in batches the receiver refused with a non-retryable status
	Retries     int64     // POST attempts that were retried
	Lag         int       // events queued or in flight, not yet delivered
	LastError   string    // the most recent delivery error ("" if none); never holds header values or bodies
	LastErrorAt time.Time // when LastError happened
}

// Webhook is a Sink that POSTs NDJSON batches to an HTTP(S) endpoint.
//
// Events are queued by Send and delivered by one background goroutine, in
// order: a batch is retried (network errors, 5xx, 429; exponential backoff
// with jitter capped at 30s, or the server's Retry-After, itself capped at
// 5 minutes) until it succeeds
// before the next is sent. A batch refused with any other status (4xx, 3xx)
// is logged, counted and dropped. Dropped events are reported to the
// receiver on the next delivered batch through HeaderDroppedBeforeSeq and
// HeaderDroppedCount and the first record's "dropped_before_seq" and
// "dropped_count" fields.
type Webhook struct {
	cfg    WebhookConfig
	url    string
	host   string // for logs
	client *http.Client
	log    *slog.Logger

	// Unexported knobs, overridden by tests.
	backoffBase   time.Duration
	backoffCap    time.Duration
	maxRetryAfter time.Duration

	mu          sync.Mutex
	queue       []chain.Event
	inflight    int
	closing     bool
	pendingDrop int64 // events dropped since the last batch was taken
	overflowing bool  // logged an overflow not yet followed by a delivery
	lastErr     string
	lastErrAt   time.Time

	sent, dropped, rejected, retries atomic.Int64

	wake   chan struct{}
	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	start  sync.Once
}

var _ Sink = (*Webhook)(nil)

// NewWebhook validates cfg and returns a running Webhook. Call Close to
// flush and stop it. A nil logger discards logs.
func NewWebhook(cfg WebhookConfig, logger *slog.Logger) (*Webhook, error) {
	w, err := newWebhook(cfg, logger)
	if err != nil {
		return nil, err
	}
	w.run()
	return w, nil
}

// newWebhook builds a Webhook without starting it, so tests can adjust the
// unexported knobs first.
func newWebhook(cfg WebhookConfig, logger *slog.Logger) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := parseWebhookURL(cfg.URL)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("siem: webhook CAFile: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("siem: webhook CAFile %s: no PEM certificates found", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr.TLSClientConfig = tlsCfg
	ctx, cancel := context.WithCancel(context.Background())
	w := &Webhook{
		cfg:  cfg,
		url:  u.String(),
		host: u.Host,
		client: &http.Client{
			Transport: tr,
			// Never follow redirects: they could carry Headers elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:           logger.With("component", "siem.webhook", "host", u.Host),
		backoffBase:   defaultBackoffBase,
		backoffCap:    defaultBackoffCap,
		maxRetryAfter: defaultMaxRetryAfter,
		wake:          make(chan struct{}, 1),
		ctx:           ctx,
		cancel:        cancel,
		done:          make(chan struct{}),
	}
	return w, nil
}

// run starts the delivery goroutine once.
func (w *Webhook) run() {
	w.start.Do(func() { go w.loop() })
}

// Send queues events for delivery and returns at once. If the queue would
// exceed MaxQueue the oldest queued events are dropped. Events sent after
// Close has begun are dropped and counted.
func (w *Webhook) Send(events []chain.Event) {
	if len(events) == 0 {
		return
	}
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		w.dropped.Add(int64(len(events)))
		w.log.Warn("siem: events sent after Close were dropped", "count", len(events))
		return
	}
	w.queue = append(w.queue, events...)
	var over int
	logOverflow := false
	if n := len(w.queue) - w.cfg.MaxQueue; n > 0 {
		over = n
		clear(w.queue[:n])
		w.queue = w.queue[n:]
		w.pendingDrop += int64(n)
		if !w.overflowing {
			w.overflowing = true
			logOverflow = true
		}
	}
	full := len(w.queue) >= w.cfg.BatchSize
	w.mu.Unlock()
	if over > 0 {
		w.dropped.Add(int64(over))
	}
	if logOverflow {
		w.log.Warn("siem: queue full, dropping oldest events", "max_queue", w.cfg.MaxQueue, "dropped", over)
	}
	if full {
		w.signal()
	}
}

// signal wakes the delivery goroutine without blocking.
func (w *Webhook) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// batch is one POST's worth of events plus the drop report it carries.
type batch struct {
	events      []chain.Event
	droppedPrev int64 // events dropped just before events[0]
}

// next takes the next batch off the queue: a full one, or when all is set
// (interval flush or closing) whatever is queued. ok is false if there is
// nothing to send.
func (w *Webhook) next(all bool) (b batch, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), w.cfg.BatchSize)
	if n == 0 || (n < w.cfg.BatchSize && !all && !w.closing) {
		return batch{}, false
	}
	b.events = make([]chain.Event, n)
	copy(b.events, w.queue[:n])
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	b.droppedPrev = w.pendingDrop
	w.pendingDrop = 0
	w.inflight = n
	return b, true
}

// loop is the delivery goroutine.
func (w *Webhook) loop() {
	defer close(w.done)
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		all := false
		select {
		case <-w.wake:
		case <-ticker.C:
			all = true
		case <-w.ctx.Done():
			return
		}
		for {
			b, ok := w.next(all)
			if !ok {
				break
			}
			if err := w.deliver(b); err != nil {
				return // cancelled by Close
			}
		}
		w.mu.Lock()
		finished := w.closing && len(w.queue) == 0
		w.mu.Unlock()
		if finished {
			return
		}
	}
}

// deliver POSTs b until it is accepted or refused. It returns an error only
// if the sink's context was cancelled; the batch is then left in flight for
// Close to count.
func (w *Webhook) deliver(b batch) error {
	body, err := w.encodeBatch(b)
	if err != nil {
		// Not expected: records are plain strings and numbers.
		w.finish(b, false, err.Error())
		w.log.Error("siem: cannot encode batch; dropped", "count", len(b.events), "err", err)
		return nil
	}
	first, last := b.events[0].Seq, b.events[len(b.events)-1].Seq
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := w.post(b, body, first, last)
		if w.ctx.Err() != nil {
			return w.ctx.Err()
		}
		var msg string
		retry := true
		switch {
		case err != nil:
			msg = err.Error()
		case status >= 200 && status < 300:
			w.finish(b, true, "")
			return nil
		case status == http.StatusTooManyRequests || status >= 500:
			msg = fmt.Sprintf("HTTP %d", status)
		default:
			msg = fmt.Sprintf("HTTP %d", status)
			retry = false
		}
		if !retry {
			w.finish(b, false, msg)
			w.log.Error("siem: webhook refused batch; dropped",
				"status", status, "first_seq", first, "last_seq", last, "count", len(b.events))
			return nil
		}
		w.retries.Add(1)
		w.setLastErr(msg)
		delay := w.backoff(attempt)
		if retryAfter > 0 {
			delay = min(retryAfter, w.maxRetryAfter)
		}
		w.log.Warn("siem: webhook delivery failed; retrying",
			"err", msg, "attempt", attempt+1, "delay", delay, "first_seq", first, "last_seq", last)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return w.ctx.Err()
		}
	}
}

// finish records the outcome of a batch that left flight.
func (w *Webhook) finish(b batch, ok bool, errMsg string) {
	n := int64(len(b.events))
	w.mu.Lock()
	w.inflight = 0
	if ok {
		w.overflowing = false
	} else {
		// The receiver never got these (or the drop report they carried);
		// report them with the next batch.
		w.pendingDrop += n + b.droppedPrev
		w.lastErr, w.lastErrAt = errMsg, time.Now()
	}
	w.mu.Unlock()
	if ok {
		w.sent.Add(n)
	} else {
		w.dropped.Add(n)
		w.rejected.Add(n)
	}
}

func (w *Webhook) setLastErr(msg string) {
	w.mu.Lock()
	w.lastErr, w.lastErrAt = msg, time.Now()
	w.mu.Unlock()
}

// encodeBatch renders b as NDJSON, marking the first record with the drop
// report if there is one.
func (w *Webhook) encodeBatch(b batch) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b.events) * 512)
	for i, e := range b.events {
		r := NewRecord(e)
		if i == 0 && b.droppedPrev > 0 {
			r.DroppedBeforeSeq = e.Seq
			r.DroppedCount = b.droppedPrev
		}
		if err := encodeRecord(&buf, r); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// post makes one POST attempt. err is a network-level error, scrubbed of the
// URL; retryAfter is the parsed Retry-After of a 429 or 5xx response.
func (w *Webhook) post(b batch, body []byte, first, last int64) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("cannot build request")
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "rack-gateway-siem")
	}
	req.Header.Set(HeaderFirstSeq, strconv.FormatInt(first, 10))
	req.Header.Set(HeaderLastSeq, strconv.FormatInt(last, 10))
	if b.droppedPrev > 0 {
		req.Header.Set(HeaderDroppedBeforeSeq, strconv.FormatInt(first, 10))
		req.Header.Set(HeaderDroppedCount, strconv.FormatInt(b.droppedPrev, 10))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, scrubErr(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBody))
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return resp.StatusCode, retryAfter, nil
}

// scrubErr drops the URL that *url.Error quotes, since it may hold a token.
func scrubErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// parseRetryAfter parses a Retry-After value (delay-seconds or HTTP-date);
// 0 if absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(time.Hour/time.Second) {
			s = int64(time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// backoff returns the delay before retry attempt+1: exponential from
// backoffBase, capped at backoffCap, with jitter in [d/2, d].
func (w *Webhook) backoff(attempt int) time.Duration {
	d := w.backoffCap
	if attempt < 30 {
		if e := w.backoffBase << attempt; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// Stats returns a snapshot of the sink's counters.
func (w *Webhook) Stats() Stats {
	w.mu.Lock()
	lag := len(w.queue) + w.inflight
	lastErr, lastErrAt := w.lastErr, w.lastErrAt
	w.mu.Unlock()
	return Stats{
		Sent:        w.sent.Load(),
		Dropped:     w.dropped.Load(),
		Rejected:    w.rejected.Load(),
		Retries:     w.retries.Load(),
		Lag:         lag,
		LastError:   lastErr,
		LastErrorAt: lastErrAt,
	}
}

// Collectors returns Prometheus collectors for the sink's counters, for the
// caller to register. Nothing is registered globally.
func (w *Webhook) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		counter("rgw_siem_events_sent_total", "Audit events delivered to the SIEM webhook.", &w.sent),
		counter("rgw_siem_events_dropped_total", "Audit events the SIEM webhook sink dropped (queue overflow, rejected, abandoned at shutdown).", &w.dropped),
		counter("rgw_siem_events_rejected_total", "Audit events in batches the SIEM webhook refused with a non-retryable status.", &w.rejected),
		counter("rgw_siem_retries_total", "SIEM webhook POST attempts that were retried.", &w.retries),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rgw_siem_lag_events", Help: "Audit events queued or in flight to the SIEM webhook."},
			func() float64 { return float64(w.Stats().Lag) }),
	}
}

// Close delivers everything queued, retrying as usual, until ctx ends; then
// it abandons the rest (counted as dropped) and returns ctx's error. Sends
// after Close begins are dropped. Close is safe to call more than once.
func (w *Webhook) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closing = true
		w.mu.Unlock()
		w.run() // in case it was never started
		w.signal()
	})
	var ctxErr error
	select {
	case <-w.done:
	case <-ctx.Done():
		select {
		case <-w.done:
		default:
			ctxErr = ctx.Err()
			w.cancel() // aborts the POST or backoff in progress
			<-w.done
		}
	}
	w.cancel()
	w.mu.Lock()
	left := len(w.queue) + w.inflight
	w.queue, w.inflight = nil, 0
	w.mu.Unlock()
	if left == 0 {
		return nil
	}
	w.dropped.Add(int64(left))
	w.log.Error("siem: closed with undelivered events; dropped", "count", left)
	if ctxErr == nil {
		ctxErr = errors.New("delivery stopped")
	}
	return fmt.Errorf("siem: %d events undelivered at close: %w", left, ctxErr)
}
