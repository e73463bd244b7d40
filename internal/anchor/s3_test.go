package anchor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/anchor/anchortest"
)

func newS3(tb testing.TB, env anchortest.S3Env, bucket string, mod func(*anchor.S3Config)) *anchor.S3 {
	tb.Helper()
	cfg := anchor.S3Config{Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket,
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, PathStyle: true, RetentionDays: 1}
	if mod != nil {
		mod(&cfg)
	}
	a, err := anchor.NewS3(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func TestS3ConfigValidate(t *testing.T) {
	good := anchor.S3Config{Region: "us-east-1", Bucket: "rgw-anchors", RetentionDays: 2555}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name  string
		mod   func(*anchor.S3Config)
		field string // named in the error
	}{
		{"no bucket", func(c *anchor.S3Config) { c.Bucket = "" }, "bucket"},
		{"bad bucket", func(c *anchor.S3Config) { c.Bucket = "Upper_Case" }, "bucket"},
		{"no region", func(c *anchor.S3Config) { c.Region = "" }, "region"},
		{"zero retention", func(c *anchor.S3Config) { c.RetentionDays = 0 }, "retention_days"},
		{"huge retention", func(c *anchor.S3Config) { c.RetentionDays = 100000 }, "retention_days"},
		{"bad mode", func(c *anchor.S3Config) { c.Mode = "compliance-ish" }, "mode"},
		{"bad endpoint", func(c *anchor.S3Config) { c.Endpoint = "localhost:9000" }, "endpoint"},
		{"bad prefix", func(c *anchor.S3Config) { c.Prefix = "/abs/" }, "prefix"},
		{"half credentials", func(c *anchor.S3Config) { c.AccessKeyID = "AKIA" }, "secret_access_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
			if _, err := anchor.NewS3(context.Background(), c); err == nil {
				t.Fatal("NewS3 accepted the bad config")
			}
		})
	}
	for _, mode := range []string{"", "COMPLIANCE", "GOVERNANCE"} {
		c := good
		c.Mode = mode
		if err := c.Validate(); err != nil {
			t.Errorf("mode %q: %v", mode, err)
		}
	}
	c := good
	c.Bucket, c.Region, c.RetentionDays = "", "", 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "bucket") ||
		!strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), "retention_days") {
		t.Fatalf("Validate = %v, want every bad field named", err)
	}
}

func TestS3Describe(t *testing.T) {
	a, err := anchor.NewS3(context.Background(), anchor.S3Config{Region: "eu-west-1", Bucket: "rgw-anchors", Prefix: "prod/",
		RetentionDays: 2555, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Describe(), "s3://rgw-anchors/prod/ (Object Lock COMPLIANCE, 2555d)"; got != want {
		t.Fatalf("Describe = %q, want %q", got, want)
	}
}

func TestS3CheckBucket(t *testing.T) {
	env := anchortest.StartVersity(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, bucket, wantErr string
	}{
		{"object lock", env.Bucket(true), ""},
		{"no object lock", env.Bucket(false), "Object Lock is not enabled"},
		{"missing", "rgw-no-such-bucket", "rgw-no-such-bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newS3(t, env, tc.bucket, nil).CheckBucket(ctx)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckBucket: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CheckBucket = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func readVersion(t *testing.T, c *s3.Client, bucket, key, version string) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// versitygw really enforces the lock: someone holding the bucket's (root)
// credentials cannot delete, shorten or replace an anchor. GOVERNANCE is
// run alongside to show that the server does tell the modes apart (the
// bypass works there), so the COMPLIANCE refusals are meaningful.
func TestS3ObjectLockEnforced(t *testing.T) {
	env := anchortest.StartVersity(t)
	ctx := context.Background()
	raw := env.Client()
	for _, tc := range []struct {
		mode       string
		wantMode   types.ObjectLockRetentionMode
		bypassable bool
	}{
		{"", types.ObjectLockRetentionModeCompliance, false}, // default
		{"GOVERNANCE", types.ObjectLockRetentionModeGovernance, true},
	} {
		t.Run(string(tc.wantMode), func(t *testing.T) {
			bucket := env.Bucket(true)
			a := newS3(t, env, bucket, func(c *anchor.S3Config) { c.Mode, c.RetentionDays = tc.mode, 3 })
			if err := a.CheckBucket(ctx); err != nil {
				t.Fatal(err)
			}
			key := anchor.Key(1000)
			orig := []byte(`{"statement":"one"}`)
			start := time.Now()
			if err := a.Put(ctx, key, orig); err != nil {
				t.Fatalf("put: %v", err)
			}
			head, err := raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil || aws.ToString(head.VersionId) == "" {
				t.Fatalf("head: %v (version %q)", err, aws.ToString(head.VersionId))
			}
			vid := head.VersionId

			ret, err := raw.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: vid})
			if err != nil || ret.Retention == nil || ret.Retention.Mode != tc.wantMode {
				t.Fatalf("retention = %+v, %v; want mode %s", ret, err, tc.wantMode)
			}
			until := aws.ToTime(ret.Retention.RetainUntilDate)
			if lo, hi := start.Add(72*time.Hour-time.Minute), time.Now().Add(72*time.Hour+time.Minute); until.Before(lo) || until.After(hi) {
				t.Fatalf("retain until %v, want about 3 days from now", until)
			}

			// Shortening the retention (with the governance bypass header).
			_, err = raw.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key),
				VersionId: vid, BypassGovernanceRetention: aws.Bool(true),
				Retention: &types.ObjectLockRetention{Mode: tc.wantMode, RetainUntilDate: aws.Time(time.Now().Add(time.Hour))}})
			if err == nil && !tc.bypassable {
				t.Fatal("shortening a COMPLIANCE retention succeeded")
			}

			// Overwrite without If-None-Match: at most a new version; the
			// locked original stays, readable by version id and via Get.
			_, ovErr := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("forged"))})
			t.Logf("raw overwrite: %v", ovErr)
			if b, err := readVersion(t, raw, bucket, key, *vid); err != nil || !bytes.Equal(b, orig) {
				t.Fatalf("locked version after an overwrite: %q, %v", b, err)
			}
			if got, err := a.Get(ctx, key); err != nil || !bytes.Equal(got, orig) {
				t.Fatalf("anchor Get after an overwrite = %q, %v; want the original", got, err)
			}
			if err := a.Put(ctx, key, []byte("again")); !errors.Is(err, anchor.ErrExists) {
				t.Fatalf("put after an overwrite = %v, want ErrExists", err)
			}

			// A delete marker hides the object from plain reads and listings,
			// but not from the anchor store.
			if _, err := raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				t.Logf("delete without version id: %v", err)
			}
			if got, err := a.Get(ctx, key); err != nil || !bytes.Equal(got, orig) {
				t.Fatalf("anchor Get after a delete marker = %q, %v; want the original", got, err)
			}
			if keys, err := a.List(ctx, "checkpoints/"); err != nil || len(keys) != 1 || keys[0] != key {
				t.Fatalf("list after a delete marker = %q, %v", keys, err)
			}
			if err := a.Put(ctx, key, []byte("again")); !errors.Is(err, anchor.ErrExists) {
				t.Fatalf("put after a delete marker = %v, want ErrExists", err)
			}

			// Deleting the locked version: refused without the bypass; with
			// it, refused for COMPLIANCE (GOVERNANCE lets it through).
			_, err = raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: vid})
			if err == nil {
				t.Fatal("deleting the locked version succeeded")
			}
			_, err = raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: vid,
				BypassGovernanceRetention: aws.Bool(true)})
			if tc.bypassable != (err == nil) {
				t.Fatalf("delete with BypassGovernanceRetention: err = %v, want success=%v", err, tc.bypassable)
			}
			if !tc.bypassable {
				if b, err := readVersion(t, raw, bucket, key, *vid); err != nil || !bytes.Equal(b, orig) {
					t.Fatalf("locked version after the attacks: %q, %v", b, err)
				}
			}
		})
	}
}

// anchortest.CreateBucket's default retention protects objects put without
// a retention of their own.
func TestCreateBucketDefaultRetention(t *testing.T) {
	env := anchortest.StartVersity(t)
	ctx := context.Background()
	raw := env.Client()
	if err := anchortest.CreateBucket(ctx, raw, "rgw-default-retention", true, 1); err != nil {
		t.Fatal(err)
	}
	if err := newS3(t, env, "rgw-default-retention", nil).CheckBucket(ctx); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x"))
	put, err := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rgw-default-retention"), Key: aws.String("k"),
		Body: bytes.NewReader([]byte("x")), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		t.Fatal(err)
	}
	// versitygw 1.8 does not copy the default onto the object (AWS does:
	// GetObjectRetention would show it); it enforces it on delete. The
	// anchor store does not rely on defaults: every Put sets its own.
	if _, err := raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("rgw-default-retention"), Key: aws.String("k"),
		VersionId: put.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err == nil {
		t.Fatal("deleting a version under default COMPLIANCE retention succeeded")
	}
}

// If-None-Match is what closes the race between Put's existence check and
// its write: versitygw must honor it.
func TestS3IfNoneMatchHonored(t *testing.T) {
	env := anchortest.StartVersity(t)
	ctx := context.Background()
	bucket := env.Bucket(true)
	raw := env.Client()
	put := func() error {
		_, err := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
			Body: bytes.NewReader([]byte("x")), IfNoneMatch: aws.String("*")})
		return err
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	if err := put(); err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("second conditional put = %v, want 412 PreconditionFailed", err)
	}
}

// More keys than one ListObjectVersions / ListObjectsV2 page (1000), put in
// an order unlike the listing's: List returns all of them, ascending.
func TestS3ListAcrossPages(t *testing.T) {
	env := anchortest.StartVersity(t)
	bucket := env.Bucket(true)
	a := newS3(t, env, bucket, nil)
	ctx := context.Background()
	const n = 1100
	// Multiples of 7 from 7: unpadded, "1001" < "14" < "7".
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := a.Put(ctx, anchor.Key(uint64(i*7)), []byte(fmt.Sprint(i))); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := n; i >= 1; i-- {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys, err := a.List(ctx, "checkpoints/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("listed %d keys, want %d", len(keys), n)
	}
	for i, k := range keys {
		seq, err := anchor.ParseKey(k)
		if err != nil || seq != uint64((i+1)*7) {
			t.Fatalf("key %d = %q (%d, %v), want seq %d", i, k, seq, err, (i+1)*7)
		}
	}
	// The plain object listing agrees (and pages too).
	var plain int
	p := s3.NewListObjectsV2Paginator(env.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		plain += len(page.Contents)
	}
	if plain != n || pages < 2 {
		t.Fatalf("ListObjectsV2: %d objects in %d pages, want %d in at least 2", plain, pages, n)
	}
}

// S3 down: Put fails (not ErrExists) within a bounded time, and nothing is
// half-written; back up: the same Put succeeds.
func TestS3DownThenBack(t *testing.T) {
	env := anchortest.StartVersity(t)
	a := newS3(t, env, env.Bucket(true), nil)
	ctx := context.Background()
	if err := a.Put(ctx, anchor.Key(1), []byte("one")); err != nil {
		t.Fatal(err)
	}
	env.Stop()
	for _, tc := range []struct {
		name    string
		timeout time.Duration // 0: no deadline; the client's retries bound it
		bound   time.Duration
	}{
		{"deadline", 5 * time.Second, 6 * time.Second},
		{"no deadline", 0, 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ctx
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			err := a.Put(c, anchor.Key(2), []byte("two"))
			took := time.Since(start)
			if err == nil || errors.Is(err, anchor.ErrExists) || !strings.Contains(err.Error(), anchor.Key(2)) {
				t.Fatalf("put while down = %v, want a connection error naming the key", err)
			}
			if took > tc.bound {
				t.Fatalf("put while down took %v, want at most %v", took, tc.bound)
			}
			t.Logf("put while down failed after %v: %v", took, err)
		})
	}
	if _, err := a.Get(ctx, anchor.Key(1)); err == nil || errors.Is(err, anchor.ErrNotFound) {
		t.Fatalf("get while down = %v, want a connection error", err)
	}
	if _, err := a.List(ctx, ""); err == nil {
		t.Fatal("list while down succeeded")
	}
	env.Restart()
	if err := a.Put(ctx, anchor.Key(2), []byte("two")); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	for seq, want := range map[uint64]string{1: "one", 2: "two"} {
		if got, err := a.Get(ctx, anchor.Key(seq)); err != nil || string(got) != want {
			t.Fatalf("get %d after restart = %q, %v", seq, got, err)
		}
	}
}

// A server that accepts connections but never answers: the caller's
// deadline bounds Put.
func TestS3HungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	a, err := anchor.NewS3(context.Background(), anchor.S3Config{Endpoint: "http://" + ln.Addr().String(), Region: "us-east-1",
		Bucket: "rgw-anchors", AccessKeyID: "a", SecretAccessKey: "b", PathStyle: true, RetentionDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = a.Put(ctx, anchor.Key(1), []byte("x"))
	if took := time.Since(start); err == nil || errors.Is(err, anchor.ErrExists) || took > 3*time.Second {
		t.Fatalf("put to a hung server = %v after %v, want an error within about 1s", err, took)
	}
}

// BenchmarkS3Put measures one anchor Put (existence check + locked,
// checksummed conditional PutObject) against a local versitygw.
func BenchmarkS3Put(b *testing.B) {
	env := anchortest.StartVersity(b)
	a := newS3(b, env, env.Bucket(true), nil)
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 512) // about an anchor's size
	var seq uint64
	for b.Loop() {
		seq++
		if err := a.Put(ctx, anchor.Key(seq), data); err != nil {
			b.Fatal(err)
		}
	}
}
