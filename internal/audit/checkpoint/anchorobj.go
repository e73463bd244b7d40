package checkpoint

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Anchor is the object written to the anchor store for one checkpoint: the
// signed statement, the signature and the signing key's id.
type Anchor struct {
	Statement string `json:"statement"`
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"` // base64 in JSON
}

// AnchorKey is the object key of the checkpoint at seq: zero-padded so that
// lexical order (S3 listing order) is numeric order.
func AnchorKey(seq int64) string { return anchor.Key(uint64(seq)) }

// AnchorPrefix is the common prefix of AnchorKey.
const AnchorPrefix = "checkpoints/"

// EncodeAnchor renders the anchor object of c.
func EncodeAnchor(c *store.Checkpoint, keyID string) []byte {
	b, _ := json.MarshalIndent(Anchor{Statement: c.Statement, KeyID: keyID, Signature: c.Signature}, "", "  ")
	return append(b, '\n')
}

// DecodeAnchor parses an anchor object.
func DecodeAnchor(data []byte) (*Anchor, error) {
	var a Anchor
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	if a.Statement == "" || len(a.Signature) != ed25519.SignatureSize {
		return nil, errors.New("anchor: missing statement or signature")
	}
	return &a, nil
}

// Verify checks sig over text with pub and parses the statement.
func Verify(pub ed25519.PublicKey, text string, sig []byte) (*Statement, error) {
	if !ed25519.Verify(pub, []byte(text), sig) {
		return nil, errors.New("bad signature")
	}
	return Parse(text)
}
