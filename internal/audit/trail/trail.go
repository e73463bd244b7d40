// Package trail assembles the tamper-evident audit trail from configuration:
// the checkpoint signing key (or public key, for verification only), the
// HMAC key for secret values and the anchor store. serve, dev and the audit
// CLI verbs all use it, so they find the same keys and anchors.
package trail

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
)

// Trail holds the audit trail's keys and anchor store.
type Trail struct {
	Signer    *checkpoint.Signer // nil without the private key
	PublicKey ed25519.PublicKey
	HMACKey   []byte             // nil if not configured
	Anchors   checkpoint.Anchors // nil if not configured
}

// Config names the keys and the anchor store. Its fields mirror the audit
// section of the gateway's configuration (config.Audit), whose documentation
// they share; the settings' names appear in Open's errors.
type Config struct {
	// Origin names this gateway in signed checkpoints.
	Origin string
	// SigningKeyFile or SigningKey (PEM, or base64 of a 32-byte seed) is
	// the Ed25519 checkpoint signing key.
	SigningKeyFile string
	SigningKey     string
	// PublicKeyFile is the checkpoint public key, for verification only.
	PublicKeyFile string
	// HMACKeyFile or HMACKey (base64, ≥ 32 bytes) keys the value hashes.
	HMACKeyFile string
	HMACKey     string
	// AnchorDir (not write-once; dev only) or S3.Bucket is the anchor store.
	AnchorDir string
	S3        anchor.S3Config
}

// Options say what Open needs.
type Options struct {
	// CreateKeys makes missing key files (dev mode).
	CreateKeys bool
	// NeedSigner fails without the private signing key (serve); otherwise a
	// public key file is enough (verify on an auditor's machine).
	NeedSigner bool
	// NeedHMAC fails without the HMAC key.
	NeedHMAC bool
	// NeedAnchors fails without an anchor store.
	NeedAnchors bool
}

// Open loads the keys and connects the anchor store.
func Open(ctx context.Context, a Config, o Options) (*Trail, error) {
	t := &Trail{}
	switch {
	case a.SigningKey != "":
		k, err := checkpoint.ParsePrivateKey([]byte(a.SigningKey))
		if err != nil {
			return nil, fmt.Errorf("audit.signing_key (RGW_AUDIT_SIGNING_KEY): %w", err)
		}
		t.Signer = &checkpoint.Signer{Key: k, Origin: a.Origin}
	case a.SigningKeyFile != "":
		k, err := checkpoint.LoadOrCreateKey(a.SigningKeyFile, o.CreateKeys)
		switch {
		case err == nil:
			t.Signer = &checkpoint.Signer{Key: k, Origin: a.Origin}
		case o.NeedSigner || a.PublicKeyFile == "":
			return nil, fmt.Errorf("audit.signing_key_file (RGW_AUDIT_SIGNING_KEY_FILE): %w", err)
		}
	}
	if t.Signer != nil {
		t.PublicKey = t.Signer.Key.Public().(ed25519.PublicKey)
	} else if o.NeedSigner {
		return nil, errors.New("audit.signing_key_file (RGW_AUDIT_SIGNING_KEY_FILE): a checkpoint signing key is required")
	}
	if a.PublicKeyFile != "" {
		data, err := os.ReadFile(a.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("audit.public_key_file (RGW_AUDIT_PUBLIC_KEY_FILE): %w", err)
		}
		pub, err := checkpoint.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("audit.public_key_file (RGW_AUDIT_PUBLIC_KEY_FILE): %w", err)
		}
		if t.PublicKey != nil && !t.PublicKey.Equal(pub) {
			return nil, errors.New("audit.public_key_file does not match the signing key")
		}
		t.PublicKey = pub
	}
	if t.PublicKey == nil {
		return nil, errors.New("audit: no checkpoint key: set audit.signing_key_file or audit.public_key_file (RGW_AUDIT_PUBLIC_KEY_FILE)")
	}

	hk, err := loadHMAC(a, o.CreateKeys)
	if err != nil {
		return nil, err
	}
	if hk == nil && o.NeedHMAC {
		return nil, errors.New("audit.hmac_key_file (RGW_AUDIT_HMAC_KEY_FILE): required")
	}
	t.HMACKey = hk

	switch {
	case a.S3.Bucket != "":
		s3, err := anchor.NewS3(ctx, a.S3)
		if err != nil {
			return nil, fmt.Errorf("audit.s3: %w", err)
		}
		if o.NeedSigner { // serve: refuse to anchor into a bucket that is not write-once
			if err := s3.CheckBucket(ctx); err != nil {
				return nil, fmt.Errorf("audit.s3.bucket (RGW_AUDIT_S3_BUCKET): %w", err)
			}
		}
		t.Anchors = s3
	case a.AnchorDir != "":
		d, err := anchor.NewDir(a.AnchorDir)
		if err != nil {
			return nil, fmt.Errorf("audit.anchor_dir (RGW_AUDIT_ANCHOR_DIR): %w", err)
		}
		t.Anchors = d
	case o.NeedAnchors:
		return nil, errors.New("audit.s3.bucket (RGW_AUDIT_S3_BUCKET): an anchor store is required")
	}
	return t, nil
}

func loadHMAC(a Config, create bool) ([]byte, error) {
	parse := func(setting string, v []byte) ([]byte, error) {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(v)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s: want the base64 of at least 32 random bytes", setting)
		}
		return k, nil
	}
	if a.HMACKey != "" {
		return parse("audit.hmac_key (RGW_AUDIT_HMAC_KEY)", []byte(a.HMACKey))
	}
	if a.HMACKeyFile == "" {
		return nil, nil
	}
	const setting = "audit.hmac_key_file (RGW_AUDIT_HMAC_KEY_FILE)"
	data, err := os.ReadFile(a.HMACKeyFile)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := WriteNewHMACKey(a.HMACKeyFile); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s: %w", setting, err)
		}
		data, err = os.ReadFile(a.HMACKeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	return parse(setting, data)
}

// WriteNewHMACKey writes 32 random bytes, base64, to a new file (mode 0600).
func WriteNewHMACKey(path string) error {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
