// Package seal encrypts at rest the secrets that must be recovered later
// (TOTP secrets), with AES-256-GCM under named keys so that a new key can be
// rolled in: the first key of a Keyring seals, every key opens.
//
// Rotation: put the new key first in the spec, keep the old ones after it,
// re-seal rows for which NeedsReseal reports true (on use or in a sweep), and
// drop an old key once no row names it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// nonceSize is the GCM standard nonce size. Random 96-bit nonces are safe
// for far more seals (2³² per key) than a gateway's MFA enrolments.
const nonceSize = 12

var (
	// ErrUnknownKey reports a key id the keyring does not hold (Open wraps
	// it with the id).
	ErrUnknownKey = errors.New("seal: unknown key id")
	// ErrOpen reports a ciphertext that does not authenticate: tampered,
	// truncated, sealed under another key, or opened with other aad. The
	// causes are deliberately not told apart.
	ErrOpen = errors.New("seal: ciphertext does not authenticate")
)

// Keyring holds the keys that open sealed secrets; the primary one seals.
// It is safe for concurrent use. Its String method names only the key ids,
// so printing a Keyring does not leak keys.
type Keyring struct {
	primary string
	ids     []string // in spec order, primary first
	aeads   map[string]cipher.AEAD
}

// ParseKeyring parses a comma-separated list of id:base64key entries, such
// as "k2:...,k1:...". The first key is the primary, used to seal; the others
// only open. Ids are 1–32 characters of A-Z a-z 0-9 _ -; keys are 32 bytes in
// standard or URL-safe base64, padded or not. White space around entries is
// ignored. Error messages name entries by position and valid id only: never
// key material.
func ParseKeyring(spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("seal: empty key spec (want id:base64key[,id:base64key...])")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(spec, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("seal: key spec entry %d is empty", n)
		}
		id, b64, found := strings.Cut(entry, ":")
		if !found {
			// The entry might be a bare key: do not echo it.
			return nil, fmt.Errorf("seal: key spec entry %d has no id (want id:base64key)", n)
		}
		if !validID(id) {
			// An invalid id might be key material pasted in the wrong place.
			return nil, fmt.Errorf("seal: key spec entry %d: key id must be 1-32 characters of A-Z a-z 0-9 _ -", n)
		}
		key, ok := decodeKey(strings.TrimSpace(b64))
		if !ok {
			return nil, fmt.Errorf("seal: key %q (entry %d) is not valid base64", id, n)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: key %q (entry %d) is %d bytes, want %d", id, n, len(key), KeySize)
		}
		if err := k.add(id, key); err != nil {
			return nil, fmt.Errorf("seal: key %q (entry %d): %w", id, n, err)
		}
	}
	return k, nil
}

// NewKeyring returns a keyring whose primary key is key under primaryID,
// with others (id → key) for opening only. All keys must be 32 bytes.
func NewKeyring(primaryID string, key []byte, others map[string][]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	ids := make([]string, 0, len(others))
	for id := range others {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic order for String
	keys := [][]byte{key}
	for _, id := range ids {
		keys = append(keys, others[id])
	}
	for i, id := range append([]string{primaryID}, ids...) {
		if !validID(id) {
			return nil, errors.New("seal: key id must be 1-32 characters of A-Z a-z 0-9 _ -")
		}
		if len(keys[i]) != KeySize {
			return nil, fmt.Errorf("seal: key %q is %d bytes, want %d", id, len(keys[i]), KeySize)
		}
		if err := k.add(id, keys[i]); err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", id, err)
		}
	}
	return k, nil
}

// add adds a key; the first one added is the primary.
func (k *Keyring) add(id string, key []byte) error {
	if _, dup := k.aeads[id]; dup {
		return errors.New("duplicate key id")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return errors.New("bad key") // aes errors carry only the length, but say nothing anyway
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return errors.New("bad key")
	}
	if k.primary == "" {
		k.primary = id
	}
	k.ids = append(k.ids, id)
	k.aeads[id] = aead
	return nil
}

// GenerateKey returns a new random 32-byte key in standard base64, for
// building a key spec (documentation, dev mode).
func GenerateKey() string {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it aborts instead)
	return base64.StdEncoding.EncodeToString(key)
}

// Seal encrypts plaintext under the primary key and returns that key's id
// (store it next to the ciphertext) and nonce‖ciphertext‖tag. aad is
// authenticated but not stored: it binds the ciphertext to its row (for
// example "mfa_method:<user id>:<method id>"), so that a ciphertext copied to
// another row does not open; Open must be given the same aad.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error) {
	if k == nil || k.primary == "" {
		return "", nil, errors.New("seal: keyring has no keys")
	}
	aead := k.aeads[k.primary]
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", nil, err
	}
	return k.primary, aead.Seal(out, out, plaintext, aad), nil
}

// Open decrypts what Seal returned, with the key named keyID and the aad
// given to Seal. An id the keyring does not hold gives an error wrapping
// ErrUnknownKey; anything that does not authenticate gives ErrOpen.
func (k *Keyring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	var aead cipher.AEAD
	if k != nil {
		aead = k.aeads[keyID]
	}
	if aead == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	if len(ciphertext) < nonceSize+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, ciphertext[:nonceSize], ciphertext[nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// PrimaryID returns the id of the key that seals.
func (k *Keyring) PrimaryID() string {
	if k == nil {
		return ""
	}
	return k.primary
}

// NeedsReseal reports whether a secret sealed under keyID should be sealed
// again under the primary key: true for any id other than the primary's.
func (k *Keyring) NeedsReseal(keyID string) bool {
	return keyID != k.PrimaryID()
}

// IDs returns the key ids, primary first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// String names the key ids only.
func (k *Keyring) String() string {
	return "seal.Keyring{" + strings.Join(k.IDs(), ",") + "}"
}

// GoString is String, so that %#v does not print the keys either.
func (k *Keyring) GoString() string { return k.String() }

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeKey accepts standard and URL-safe base64, padded or not: keys get
// copied through shells, env files and secret managers that prefer one or
// the other.
func decodeKey(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
