// Package anchortest runs a real S3 server with Object Lock for tests:
// versitygw with its posix backend and versioning, on loopback.
package anchortest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Server is a running versitygw.
type Server struct {
	t                    testing.TB
	bin, root, versions  string
	Endpoint             string
	AccessKey, SecretKey string
	addr                 string
	cmd                  *exec.Cmd
}

// Binary finds versitygw: $RGW_VERSITYGW, PATH, or $(go env GOPATH)/bin.
func Binary() string {
	if p := os.Getenv("RGW_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Start runs versitygw for the test; without the binary it skips, or fails
// under RGW_REQUIRE_ALL=1.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("RGW_REQUIRE_ALL") == "1" {
			t.Fatal("versitygw not found (RGW_VERSITYGW, PATH, GOPATH/bin) but RGW_REQUIRE_ALL=1")
		}
		t.Skip("versitygw not installed; skipping S3 Object Lock tests")
	}
	dir := t.TempDir()
	s := &Server{t: t, bin: bin, root: filepath.Join(dir, "root"), versions: filepath.Join(dir, "versions"),
		AccessKey: "rgwtestaccess", SecretKey: "rgwtestsecret-0123456789"}
	for _, d := range []string{s.root, s.versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	s.Endpoint = "http://" + s.addr
	s.startProcess()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) startProcess() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.addr,
		"posix", "--versioning-dir", s.versions, s.root)
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(s.root), "versitygw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("versitygw did not listen on %s", s.addr)
}

// Stop kills the server (S3 "down").
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts it again on the same address and data.
func (s *Server) Restart() { s.Stop(); s.startProcess() }

// Client is a raw S3 client for the server.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", UsePathStyle: true, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Bucket creates a bucket, with Object Lock enabled if lock is true.
func (s *Server) Bucket(lock bool) string {
	s.t.Helper()
	name := fmt.Sprintf("rgw-%d", time.Now().UnixNano())
	_, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(lock)})
	if err != nil {
		s.t.Fatalf("create bucket: %v", err)
	}
	if lock {
		_, _ = s.Client().PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	}
	return name
}
