package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/anchor/anchortest"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// The gateway anchors its checkpoints in a real Object Lock bucket and its
// own verification passes against them; a bucket without Object Lock is
// refused at start.
func TestS3AnchoredGateway(t *testing.T) {
	s3 := anchortest.StartVersity(t)
	bucket := s3.Bucket(true)
	e := newEnv(t, func(c *config.Config) {
		c.Audit.AnchorDir = ""
		c.Audit.S3 = config.S3Anchors{Bucket: bucket, Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: true,
			AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, RetentionDays: 1}
	})
	for range 5 {
		if s, _ := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil)); s != 200 {
			t.Fatalf("GET /rack/apps: %d", s)
		}
	}
	ctx := context.Background()
	if err := e.gw.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Checkpoints.Tick(ctx, true); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	rep, err := gateway.Verify(ctx, e.st, e.gw.Trail)
	if err != nil || !rep.OK() || rep.Anchored < 1 || !strings.Contains(rep.Verdict(), "s3://"+bucket) {
		t.Fatalf("verify = %v, %v", rep.Verdict(), err)
	}
	keys, err := e.gw.Trail.Anchors.List(ctx, "checkpoints/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("anchors %v %v", keys, err)
	}

	// A bucket without Object Lock: refuse to start.
	plain := s3.Bucket(false)
	cfg := &config.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "gw.db"),
		Racks: []config.Rack{{Name: "dev", URL: e.rackSrv.URL, Password: "pw"}}, Audit: config.DevAudit(t.TempDir()),
		MFA: config.MFA{EncryptionKeys: config.NewMFAKey(time.Now())}}
	cfg.Audit.AnchorDir = ""
	cfg.Audit.S3 = config.S3Anchors{Bucket: plain, Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: true,
		AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, RetentionDays: 1}
	cfg.SetDefaults(cfg.Addr)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := storeopen.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := gateway.New(context.Background(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("gateway with a bucket without Object Lock: %v", err)
	}
}
