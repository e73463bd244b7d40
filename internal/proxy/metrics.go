package proxy

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus series.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// series caches the children by label values: looking them up in the
	// vectors hashes and checks every label on every call.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	rack, route, decision string
	status                int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// NewMetrics registers the proxy's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rgw_requests_total",
			Help: "Rack API calls through the gateway by rack, route, decision and HTTP status.",
		}, []string{"rack", "route", "decision", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rgw_request_duration_seconds",
			Help:    "Time from request to the end of the response (streams included) by rack and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 600},
		}, []string{"rack", "route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

func (m *Metrics) observe(rack, route, decision string, status int, d time.Duration) {
	if m == nil {
		return
	}
	k := seriesKey{rack, route, decision, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(rack, route, decision, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(rack, route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}
