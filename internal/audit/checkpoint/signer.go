package checkpoint

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Signer makes signed checkpoints of the chain head.
type Signer struct {
	Key    ed25519.PrivateKey
	Origin string           // names the gateway in every statement
	Now    func() time.Time // default time.Now
}

// Make is the store.AddCheckpoint callback: it returns nil when the head
// has not moved since prev.
func (s *Signer) Make(prev *store.Checkpoint, headSeq int64, headHash []byte) (*store.Checkpoint, error) {
	if headSeq == 0 || prev != nil && prev.Seq >= headSeq {
		return nil, nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	st := Statement{Origin: s.Origin, Seq: headSeq, Head: headHash, Time: store.NormalizeTime(now())}
	if prev != nil {
		if _, err := Parse(prev.Statement); err != nil {
			return nil, fmt.Errorf("previous checkpoint at %d: %w", prev.Seq, err)
		}
		st.Prev = Hash(prev.Statement)
	}
	text := st.Text()
	return &store.Checkpoint{Seq: headSeq, Statement: text, Signature: ed25519.Sign(s.Key, []byte(text)), CreatedAt: st.Time}, nil
}

// KeyID is the id of the signer's public key.
func (s *Signer) KeyID() string { return KeyID(s.Key.Public().(ed25519.PublicKey)) }
