package anchor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/anchor/anchortest"
)

func newS3(t *testing.T, srv *anchortest.Server, bucket string) *anchor.S3 {
	t.Helper()
	a, err := anchor.NewS3(context.Background(), anchor.S3Config{Endpoint: srv.Endpoint, Region: "us-east-1",
		Bucket: bucket, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: true, RetentionDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestS3ObjectLockEnforced(t *testing.T) {
	srv := anchortest.Start(t)
	ctx := context.Background()
	bucket := srv.Bucket(true)
	a := newS3(t, srv, bucket)
	if err := a.CheckBucket(ctx); err != nil {
		t.Fatalf("CheckBucket on a locked bucket: %v", err)
	}
	key := anchor.Key(1000)
	orig := []byte(`{"statement":"one"}`)
	if err := a.Put(ctx, key, orig); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := a.Put(ctx, key, []byte("forged")); !errors.Is(err, anchor.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	got, err := a.Get(ctx, key)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("get = %q, %v", got, err)
	}
	raw := srv.Client()
	ret, err := raw.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || ret.Retention == nil || ret.Retention.Mode != types.ObjectLockRetentionModeCompliance ||
		ret.Retention.RetainUntilDate == nil || ret.Retention.RetainUntilDate.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("retention = %+v, %v; want COMPLIANCE for a day", ret, err)
	}
	head, err := raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	// An attacker with the bucket's credentials: delete the locked version,
	// with and without the governance bypass.
	for _, bypass := range []bool{false, true} {
		_, err := raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			VersionId: head.VersionId, BypassGovernanceRetention: aws.Bool(bypass)})
		if err == nil {
			t.Fatalf("deleting the locked anchor version succeeded (bypass=%v)", bypass)
		}
	}
	// Overwrite without If-None-Match: at best a new version; the locked
	// original stays readable by its version id.
	_, _ = raw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("forged"))})
	old, err := raw.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: head.VersionId})
	if err != nil {
		t.Fatalf("original version after an overwrite attempt: %v", err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(old.Body)
	old.Body.Close()
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Fatalf("original version changed: %q", buf.Bytes())
	}
	// Shortening the retention of a COMPLIANCE lock is refused.
	_, err = raw.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key),
		VersionId: head.VersionId, BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(time.Now().Add(time.Minute))}})
	if err == nil {
		t.Fatal("shortening a COMPLIANCE retention succeeded")
	}
}

func TestS3CheckBucketWithoutLock(t *testing.T) {
	srv := anchortest.Start(t)
	a := newS3(t, srv, srv.Bucket(false))
	if err := a.CheckBucket(context.Background()); err == nil {
		t.Fatal("CheckBucket accepted a bucket without Object Lock")
	}
}

func TestS3ListOrderedAcrossPages(t *testing.T) {
	srv := anchortest.Start(t)
	a := newS3(t, srv, srv.Bucket(true))
	ctx := context.Background()
	const n = 1005 // more than one ListObjectsV2 page
	for i := n; i >= 1; i-- {
		if err := a.Put(ctx, anchor.Key(uint64(i*7)), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
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
			t.Fatalf("key %d = %q (%d, %v)", i, k, seq, err)
		}
	}
}

func TestS3DownThenBack(t *testing.T) {
	srv := anchortest.Start(t)
	a := newS3(t, srv, srv.Bucket(true))
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Put(ctx, anchor.Key(1), []byte("x"))
	if err == nil || errors.Is(err, anchor.ErrExists) {
		t.Fatalf("put while down: %v", err)
	}
	srv.Restart()
	if err := a.Put(context.Background(), anchor.Key(1), []byte("x")); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
}
