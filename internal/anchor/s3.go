package anchor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Object Lock retention modes accepted in S3Config.Mode.
const (
	ModeCompliance = "COMPLIANCE" // nobody, not even the account root, can shorten or remove the lock
	ModeGovernance = "GOVERNANCE" // principals with s3:BypassGovernanceRetention can
)

// S3Config locates the anchor bucket. The zero Mode means COMPLIANCE.
type S3Config struct {
	Endpoint        string // base URL of an S3-compatible server; empty: AWS
	Region          string // e.g. us-east-1 (required)
	Bucket          string // must exist with Object Lock enabled (see CheckBucket)
	Prefix          string // prepended to every key, e.g. "prod/"
	AccessKeyID     string // static credentials; empty: the AWS default credential chain
	SecretAccessKey string
	PathStyle       bool   // path-style addressing (most non-AWS servers)
	RetentionDays   int    // Object Lock retention put on each anchor, in days (1..36500)
	Mode            string // ModeCompliance (default) or ModeGovernance
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Validate reports every bad field of c, each named by its config name
// (bucket, region, retention_days, ...).
func (c S3Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3 %s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Bucket == "":
		bad("bucket", "required")
	case !bucketName.MatchString(c.Bucket):
		bad("bucket", "%q is not a valid bucket name", c.Bucket)
	}
	if c.Region == "" {
		bad("region", "required")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("endpoint", "%q is not an http(s) URL", c.Endpoint)
		}
	}
	if c.Prefix != "" && (strings.HasPrefix(c.Prefix, "/") || strings.Contains(c.Prefix, "..") || strings.ContainsAny(c.Prefix, "\\\x00\r\n")) {
		bad("prefix", "%q must not start with / or contain .., \\ or control characters", c.Prefix)
	}
	if c.RetentionDays < 1 || c.RetentionDays > 36500 {
		bad("retention_days", "%d must be between 1 and 36500", c.RetentionDays)
	}
	if c.Mode != "" && c.Mode != ModeCompliance && c.Mode != ModeGovernance {
		bad("mode", "%q must be %s or %s", c.Mode, ModeCompliance, ModeGovernance)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		bad("access_key_id/secret_access_key", "set both or neither")
	}
	return errors.Join(errs...)
}

// S3 keeps anchors in a bucket with Object Lock: each is written once and
// locked (COMPLIANCE by default) until now + RetentionDays.
//
// Write-once is enforced three ways. Put first looks for any version of the
// key and returns ErrExists if there is one. Between that check and the
// write another writer could race; PutObject carries If-None-Match: * so a
// server that supports conditional writes (AWS since 2024, versitygw)
// refuses the second write with 412 (ErrExists). On a server that ignores
// If-None-Match, the race (or anyone else holding write credentials) can
// only add a newer version: Object Lock keeps the first version, and Get
// always reads the OLDEST version of a key, so what was anchored first is
// what is read back.
//
// Needed permissions: s3:PutObject, s3:PutObjectRetention, s3:GetObject,
// s3:GetObjectVersion, s3:ListBucket, s3:ListBucketVersions and
// s3:GetBucketObjectLockConfiguration.
type S3 struct {
	cfg    S3Config
	client *s3.Client
}

// NewS3 validates cfg and makes a client; it does not contact the server.
// Call CheckBucket to verify that the bucket exists with Object Lock.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeCompliance
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := s3.Options{
		Region:       cfg.Region,
		UsePathStyle: cfg.PathStyle,
		HTTPClient:   newHTTPClient(),
		// Put sets its own SHA-256 checksum (Object Lock writes need one).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	} else {
		c, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("s3 credentials (AWS default chain): %w", err)
		}
		opts.Credentials = c.Credentials
	}
	return &S3{cfg: cfg, client: s3.New(opts)}, nil
}

// newHTTPClient bounds every stage of a request so an unreachable or hung
// server fails in seconds instead of blocking the caller; callers bound
// whole operations (with retries) with their context.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		},
	}
}

// Client is the underlying S3 client (tests use it to attack the bucket).
func (s *S3) Client() *s3.Client { return s.client }

// Describe names the bucket, prefix and lock, e.g.
// "s3://bucket/prefix (Object Lock COMPLIANCE, 2555d)".
func (s *S3) Describe() string {
	d := fmt.Sprintf("s3://%s/%s (Object Lock %s, %dd)", s.cfg.Bucket, s.cfg.Prefix, s.cfg.Mode, s.cfg.RetentionDays)
	if s.cfg.Endpoint != "" {
		d += " at " + s.cfg.Endpoint
	}
	return d
}

// CheckBucket fails unless the bucket exists and has Object Lock enabled;
// without it anchors would not be write-once, so callers should refuse to
// start.
func (s *S3) CheckBucket(ctx context.Context) error {
	b := aws.String(s.cfg.Bucket)
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b}); err != nil {
		return fmt.Errorf("anchor bucket %s: %w", s.cfg.Bucket, err)
	}
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	if err != nil {
		if code := apiCode(err); code == "ObjectLockConfigurationNotFoundError" || code == "ObjectLockConfigurationNotFound" {
			return fmt.Errorf("anchor bucket %s: Object Lock is not enabled (create the bucket with Object Lock): %w", s.cfg.Bucket, err)
		}
		return fmt.Errorf("anchor bucket %s: reading the Object Lock configuration: %w", s.cfg.Bucket, err)
	}
	if out.ObjectLockConfiguration == nil || out.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return fmt.Errorf("anchor bucket %s: Object Lock is not enabled (create the bucket with Object Lock); anchors would not be write-once", s.cfg.Bucket)
	}
	return nil
}

// Put writes data under key once, locked in Mode until now + RetentionDays.
// It returns an error wrapping ErrExists if any version of key exists.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	k := s.cfg.Prefix + key
	if _, found, err := s.oldestVersion(ctx, k); err != nil {
		return fmt.Errorf("put anchor %s: checking for an existing object: %w", key, err)
	} else if found {
		return fmt.Errorf("put anchor %s: %w", key, ErrExists)
	}
	sum := sha256.Sum256(data)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(s.cfg.Bucket),
		Key:                       aws.String(k),
		Body:                      bytes.NewReader(data),
		ContentLength:             aws.Int64(int64(len(data))),
		ContentType:               aws.String("application/json"),
		IfNoneMatch:               aws.String("*"),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ChecksumSHA256:            aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ObjectLockMode:            types.ObjectLockMode(s.cfg.Mode),
		ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Duration(s.cfg.RetentionDays) * 24 * time.Hour).UTC()),
	})
	if err != nil {
		if code := apiCode(err); code == "PreconditionFailed" || code == "ConditionalRequestConflict" {
			return fmt.Errorf("put anchor %s: %w", key, ErrExists)
		}
		return fmt.Errorf("put anchor %s to s3://%s: %w", key, s.cfg.Bucket, err)
	}
	return nil
}

// Get reads the anchor at key: its oldest version, i.e. the one Put wrote
// and locked, whatever was written over it later.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	k := s.cfg.Prefix + key
	vid, found, err := s.oldestVersion(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("get anchor %s: %w", key, err)
	}
	if !found {
		return nil, fmt.Errorf("get anchor %s: %w", key, ErrNotFound)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(k)}
	if vid != "" && vid != "null" {
		in.VersionId = aws.String(vid)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get anchor %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get anchor %s from s3://%s: %w", key, s.cfg.Bucket, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("get anchor %s: reading: %w", key, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("get anchor %s: larger than %d bytes", key, MaxSize)
	}
	return b, nil
}

// oldestVersion finds the oldest version of the object k (delete markers
// do not count). On a server without ListObjectVersions it falls back to
// HeadObject and returns an empty version id.
func (s *S3) oldestVersion(ctx context.Context, k string) (string, bool, error) {
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(k)})
	var (
		vid    string
		oldest time.Time
		found  bool
	)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if apiCode(err) == "NotImplemented" {
				return s.headVersion(ctx, k)
			}
			return "", false, err
		}
		past := false
		// Versions of a key are listed newest first: on equal times the
		// later entry is the older one.
		for _, v := range page.Versions {
			if aws.ToString(v.Key) != k {
				past = past || aws.ToString(v.Key) > k
				continue
			}
			t := aws.ToTime(v.LastModified)
			if !found || !t.After(oldest) {
				vid, oldest, found = aws.ToString(v.VersionId), t, true
			}
		}
		if past {
			break
		}
	}
	return vid, found, nil
}

func (s *S3) headVersion(ctx context.Context, k string) (string, bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(k)})
	if err == nil {
		return "", true, nil
	}
	if isNotFound(err) {
		return "", false, nil
	}
	return "", false, err
}

// List returns every key under prefix in ascending order, across pages.
//
// It lists object versions rather than current objects, so an anchor stays
// listed even if someone hid it behind a delete marker (its locked version
// is still there, and Get still reads it). On a server without
// ListObjectVersions it uses ListObjectsV2.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := s.listVersions(ctx, prefix)
	if apiCode(err) == "NotImplemented" {
		keys, err = s.listObjects(ctx, prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("list anchors %q in s3://%s: %w", prefix, s.cfg.Bucket, err)
	}
	// S3 lists in UTF-8 binary order already; sorting guards against
	// servers that do not, and is cheap on sorted input.
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func (s *S3) listVersions(ctx context.Context, prefix string) ([]string, error) {
	keys := []string{}
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			k := strings.TrimPrefix(aws.ToString(v.Key), s.cfg.Prefix)
			if n := len(keys); n == 0 || keys[n-1] != k {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

func (s *S3) listObjects(ctx context.Context, prefix string) ([]string, error) {
	keys := []string{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.cfg.Prefix))
		}
	}
	return keys, nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return true
	}
	code := apiCode(err)
	return code == "NotFound" || code == "NoSuchKey" || code == "NoSuchVersion"
}
