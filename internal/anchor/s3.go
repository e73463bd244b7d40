package anchor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config locates the anchor bucket.
type S3Config struct {
	Endpoint        string // empty: AWS
	Region          string
	Bucket          string // must have Object Lock enabled
	Prefix          string // prepended to keys
	AccessKeyID     string // empty: the AWS default credential chain
	SecretAccessKey string
	PathStyle       bool
	RetentionDays   int    // COMPLIANCE retention on each anchor
	Mode            string // "COMPLIANCE" (default) or "GOVERNANCE"
}

// Validate names the first bad field.
func (c *S3Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("s3: bucket is required")
	case c.Region == "":
		return errors.New("s3: region is required")
	case c.RetentionDays < 1:
		return errors.New("s3: retention_days must be at least 1")
	case c.Mode != "" && c.Mode != "COMPLIANCE" && c.Mode != "GOVERNANCE":
		return fmt.Errorf("s3: mode %q must be COMPLIANCE or GOVERNANCE", c.Mode)
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return errors.New("s3: set both access_key_id and secret_access_key, or neither")
	}
	return nil
}

// S3 keeps anchors in an Object Lock bucket: each is written once, with
// If-None-Match and a retention that nobody, not even the account root, can
// shorten in COMPLIANCE mode.
type S3 struct {
	cfg    S3Config
	client *s3.Client
}

// NewS3 connects to the bucket. It does not check Object Lock; see
// CheckBucket.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Mode == "" {
		cfg.Mode = "COMPLIANCE"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := s3.Options{
		Region:       cfg.Region,
		UsePathStyle: cfg.PathStyle,
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		// Object Lock PUTs need a content checksum.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	} else {
		c, err := defaultCredentials(ctx, cfg.Region)
		if err != nil {
			return nil, err
		}
		opts.Credentials = c
	}
	return &S3{cfg: cfg, client: s3.New(opts)}, nil
}

// Client is the underlying S3 client (tests use it to attack the bucket).
func (s *S3) Client() *s3.Client { return s.client }

// Describe names the bucket and its lock mode.
func (s *S3) Describe() string {
	return fmt.Sprintf("s3://%s/%s (Object Lock %s, %dd)", s.cfg.Bucket, s.cfg.Prefix, s.cfg.Mode, s.cfg.RetentionDays)
}

// CheckBucket fails unless the bucket exists with Object Lock enabled.
func (s *S3) CheckBucket(ctx context.Context) error {
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return fmt.Errorf("s3 bucket %s: object lock configuration: %w", s.cfg.Bucket, err)
	}
	if out.ObjectLockConfiguration == nil || out.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return fmt.Errorf("s3 bucket %s: Object Lock is not enabled; anchors would not be write-once", s.cfg.Bucket)
	}
	return nil
}

// Put writes data under key once, locked until now + RetentionDays.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	k := s.cfg.Prefix + key
	// Servers that ignore If-None-Match would version over the anchor; the
	// HEAD check narrows that to a race, which If-None-Match closes where
	// supported. The locked first version survives either way.
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(k)}); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, key)
	} else if !isNotFound(err) {
		return fmt.Errorf("anchor %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(s.cfg.Bucket),
		Key:                       aws.String(k),
		Body:                      bytes.NewReader(data),
		ContentLength:             aws.Int64(int64(len(data))),
		ContentType:               aws.String("application/json"),
		IfNoneMatch:               aws.String("*"),
		ChecksumSHA256:            aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ObjectLockMode:            types.ObjectLockMode(s.cfg.Mode),
		ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Duration(s.cfg.RetentionDays) * 24 * time.Hour).UTC()),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
			return fmt.Errorf("%w: %s", ErrExists, key)
		}
		return fmt.Errorf("anchor %s: %w", key, err)
	}
	return nil
}

// Get reads the anchor at key.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.cfg.Prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, fmt.Errorf("anchor %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, 1<<20))
}

// List returns every key under prefix in ascending order, across pages.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list anchors: %w", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.cfg.Prefix))
		}
	}
	return keys, nil
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")
}

// defaultCredentials uses the AWS default chain (environment, shared
// files, instance or task roles).
func defaultCredentials(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("s3: AWS credentials: %w", err)
	}
	return c.Credentials, nil
}
