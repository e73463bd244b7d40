package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// ValueHashPrefix marks a keyed value hash in audit details.
const ValueHashPrefix = "hmac-sha256:"

// ValueHash is what the audit log records instead of a secret value: an
// HMAC-SHA256, keyed with the gateway's audit HMAC key, over the name and
// the value. Without the key it reveals nothing about the value, not even
// whether two keys hold the same one; with it, `rack-gateway audit
// check-value NAME VALUE` answers "was NAME set to VALUE?".
func ValueHash(key []byte, name, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return ValueHashPrefix + hex.EncodeToString(m.Sum(nil))
}

// CheckValueHash reports, in constant time, whether h is ValueHash(key,
// name, value).
func CheckValueHash(key []byte, name, value, h string) bool {
	return hmac.Equal([]byte(ValueHash(key, name, value)), []byte(h))
}
