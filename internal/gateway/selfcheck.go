package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/trail"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
)

// SelfCheck verifies the gateway's own audit log against its anchors on a
// schedule — the same check as `rack-gateway audit verify` — and raises the
// metric rgw_audit_verify_failed and an audit event when it fails.
type SelfCheck struct {
	Store    export.Source
	Trail    *trail.Trail
	Audit    *audit.Auditor
	Log      *slog.Logger
	Interval time.Duration // 0 disables

	once    sync.Once
	failed  prometheus.Gauge
	lastRun prometheus.Gauge
	mu      sync.Mutex
	last    *verify.Report
}

func (s *SelfCheck) init() {
	s.once.Do(func() {
		s.failed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rgw_audit_verify_failed",
			Help: "1 if the last scheduled verification of the audit log against its anchors failed."})
		s.lastRun = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rgw_audit_verify_last_run_timestamp_seconds",
			Help: "When the audit log was last verified."})
	})
}

// Collectors returns the metrics for registration.
func (s *SelfCheck) Collectors() []prometheus.Collector {
	s.init()
	return []prometheus.Collector{s.failed, s.lastRun}
}

// Run verifies every Interval until ctx ends.
func (s *SelfCheck) Run(ctx context.Context) {
	s.init()
	if s.Interval <= 0 {
		return
	}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Check(ctx); err != nil && ctx.Err() == nil {
				s.Log.Error("audit self-verification could not run", "err", err)
			}
		}
	}
}

// Check verifies the log now.
func (s *SelfCheck) Check(ctx context.Context) (*verify.Report, error) {
	s.init()
	rep, err := Verify(ctx, s.Store, s.Trail)
	if err != nil {
		return nil, err
	}
	s.lastRun.SetToCurrentTime()
	s.mu.Lock()
	s.last = rep
	s.mu.Unlock()
	if rep.OK() {
		s.failed.Set(0)
		return rep, nil
	}
	s.failed.Set(1)
	s.Log.Error("AUDIT LOG VERIFICATION FAILED", "verdict", rep.Verdict())
	d, _ := json.Marshal(map[string]any{"seq": rep.Problem.Seq, "kind": rep.Problem.Kind, "detail": rep.Problem.Detail})
	s.Audit.Record(&chain.Event{ActorType: "system", Actor: "rack-gateway", Action: "audit.verify",
		Decision: "deny", Reason: "audit_verify_failed", Details: string(d)})
	return rep, nil
}

// Verify checks the live database against the trail's anchors and key.
func Verify(ctx context.Context, st export.Source, tr *trail.Trail) (*verify.Report, error) {
	cps, err := st.ListCheckpoints(ctx, 0)
	if err != nil {
		return nil, err
	}
	return verify.Run(ctx, verify.Input{
		Scan: func(ctx context.Context, fn func(*chain.Event) error) error {
			return st.ScanAudit(ctx, 0, fn)
		},
		Checkpoints: cps,
		Anchors:     tr.Anchors,
		PublicKey:   tr.PublicKey,
	})
}
