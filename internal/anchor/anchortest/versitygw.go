// Package anchortest runs a real S3-compatible server that enforces Object
// Lock for tests: versitygw (github.com/versity/versitygw) with its posix
// backend and a versioning directory, on a free loopback port, with data in
// the test's temporary directory.
//
// The versitygw binary is found via $RGW_VERSITYGW, then PATH, then
// $(go env GOPATH)/bin. Without it tests skip, or fail when
// RGW_REQUIRE_ALL=1 (as in CI, where .ci/versitygw.sh installs it).
package anchortest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Region is the region versitygw runs as.
const Region = "us-east-1"

// S3Env is a running versitygw: where it listens and the root credentials.
// Its methods share one process, so copies of an S3Env are interchangeable.
type S3Env struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	AccessKey string
	SecretKey string

	p *proc
}

// Server is the former name of S3Env.
type Server = S3Env

type proc struct {
	t                  testing.TB
	bin, root, versDir string
	logPath, addr      string
	access, secret     string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

var bucketSeq atomic.Uint64

// Binary returns the path of the versitygw binary, or "" if there is none.
func Binary() string {
	if p := os.Getenv("RGW_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var gopaths []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopaths = filepath.SplitList(strings.TrimSpace(string(out)))
	}
	if g := os.Getenv("GOPATH"); g != "" {
		gopaths = append(gopaths, filepath.SplitList(g)...)
	}
	if home, err := os.UserHomeDir(); err == nil {
		gopaths = append(gopaths, filepath.Join(home, "go"))
	}
	for _, g := range gopaths {
		p := filepath.Join(g, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// StartVersity starts versitygw for the test on a free loopback port, waits
// until it answers S3 requests, and kills it when the test ends. Without
// the binary the test is skipped, or fails if RGW_REQUIRE_ALL=1.
func StartVersity(t testing.TB) S3Env {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("RGW_REQUIRE_ALL") == "1" {
			t.Fatal("versitygw not found ($RGW_VERSITYGW, PATH, $(go env GOPATH)/bin) and RGW_REQUIRE_ALL=1; install it with .ci/versitygw.sh")
		}
		t.Skip("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0); skipping S3 tests")
	}
	if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("versitygw binary %s: not found or not a file (%v)", bin, err)
	}
	dir := t.TempDir()
	p := &proc{t: t, bin: bin, root: filepath.Join(dir, "root"), versDir: filepath.Join(dir, "versions"),
		logPath: filepath.Join(dir, "versitygw.log"), access: "rgwtestaccess", secret: "rgwtestsecret-0123456789"}
	for _, d := range []string{p.root, p.versDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(p.stop)
	// A port found free can be taken before versitygw binds it: retry.
	var err error
	for range 5 {
		p.addr, err = freePort()
		if err != nil {
			t.Fatal(err)
		}
		if err = p.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("starting versitygw: %v\n%s", err, p.logTail())
	}
	return S3Env{Endpoint: "http://" + p.addr, Region: Region, AccessKey: p.access, SecretKey: p.secret, p: p}
}

// Start is StartVersity returning a pointer.
func Start(t testing.TB) *Server {
	t.Helper()
	e := StartVersity(t)
	return &e
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs versitygw and waits (up to 20s) until it answers HTTP.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.bin, "--access", p.access, "--secret", p.secret, "--port", p.addr,
		"--region", Region, "--quiet",
		"posix", "--versioning-dir", p.versDir, p.root)
	// Only what versitygw needs: no VGW_*/ROOT_* settings from the caller.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			return fmt.Errorf("versitygw exited: %s", cmd.ProcessState)
		default:
		}
		// Any HTTP answer (an unauthenticated request gets 403) means it
		// serves S3.
		if resp, err := c.Get("http://" + p.addr + "/"); err == nil {
			resp.Body.Close()
			p.cmd, p.done = cmd, done
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("versitygw did not answer on %s within 20s", p.addr)
}

func (p *proc) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd, p.done = nil, nil
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop kills the server ("S3 is down"). Data is kept; see Restart.
func (e S3Env) Stop() { e.p.stop() }

// Restart stops the server if it runs and starts it again on the same port
// with the same data.
func (e S3Env) Restart() {
	e.p.t.Helper()
	e.p.stop()
	if err := e.p.start(); err != nil {
		e.p.t.Fatalf("restarting versitygw on %s: %v\n%s", e.p.addr, err, e.p.logTail())
	}
}

// Client is a raw S3 client with the root credentials (tests use it to
// set up buckets and to attack anchors).
func (e S3Env) Client() *s3.Client {
	return s3.New(s3.Options{
		Region: e.Region, UsePathStyle: true, BaseEndpoint: aws.String(e.Endpoint),
		Credentials:                credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Bucket creates a uniquely named bucket; with lock, Object Lock is enabled
// (which turns on versioning). It returns the name.
func (e S3Env) Bucket(lock bool) string {
	e.p.t.Helper()
	name := fmt.Sprintf("rgw-%d-%d", time.Now().UnixNano(), bucketSeq.Add(1))
	if err := CreateBucket(context.Background(), e.Client(), name, lock, 0); err != nil {
		e.p.t.Fatal(err)
	}
	return name
}

// CreateBucket creates bucket. With lock it has Object Lock enabled and
// versioning on and, if defaultDays > 0, a default COMPLIANCE retention of
// that many days for objects put without their own.
func CreateBucket(ctx context.Context, c *s3.Client, bucket string, lock bool, defaultDays int32) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
		ObjectLockEnabledForBucket: aws.Bool(lock)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if !lock {
		return nil
	}
	// Object Lock implies versioning on AWS; say so explicitly for servers
	// that want it set.
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		return fmt.Errorf("enable versioning on %s: %w", bucket, err)
	}
	if defaultDays > 0 {
		if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
				Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
					Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(defaultDays)}}}}); err != nil {
			return fmt.Errorf("default retention on %s: %w", bucket, err)
		}
	}
	return nil
}
