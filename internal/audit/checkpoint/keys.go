package checkpoint

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyID names a public key: the first 8 bytes of SHA-256 of the key, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// ParsePrivateKey reads an Ed25519 private key from PEM (PKCS #8, "PRIVATE
// KEY") or from the base64 of its 32-byte seed.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if b, _ := pem.Decode(data); b != nil {
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit signing key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("audit signing key: not an Ed25519 key")
		}
		return ek, nil
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("audit signing key: want a PEM PKCS #8 Ed25519 key or the base64 of a 32-byte seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads an Ed25519 public key from PEM ("PUBLIC KEY", PKIX)
// or from base64 of its 32 bytes.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if b, _ := pem.Decode(data); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("audit public key: not an Ed25519 key")
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("audit public key: want a PEM Ed25519 public key or the base64 of its 32 bytes")
	}
	return ed25519.PublicKey(raw), nil
}

// MarshalPublicKey renders pub as a PEM "PUBLIC KEY" block.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for Ed25519
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// LoadOrCreateKey reads the private key at path; if the file does not exist
// and create is true it generates one and writes it with mode 0600.
func LoadOrCreateKey(path string, create bool) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return ParsePrivateKey(data)
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // created concurrently: use that one
			return LoadOrCreateKey(path, false)
		}
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return priv, f.Close()
}
