package audit

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// NewRequestID returns 24 hex digits that correlate the records of one
// request (the X-Request-Id the gateway answers with). Request ids are
// always made by the gateway, never taken from the client, and they only
// correlate: they come from the runtime's fast per-thread generator
// (ChaCha8, seeded from the OS), not from crypto/rand.
func NewRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}
