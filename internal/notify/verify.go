package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DefaultWebhookTolerance is how far a webhook's timestamp may be from the
// receiver's clock when VerifyWebhook is given no tolerance.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook.
var (
	// ErrWebhookHeader: the signature header is missing or malformed.
	ErrWebhookHeader = errors.New("notify: malformed webhook signature header")
	// ErrWebhookTimestamp: the signature is too old (or too far in the
	// future) — perhaps a replay.
	ErrWebhookTimestamp = errors.New("notify: webhook timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches the body and the secret.
	ErrWebhookSignature = errors.New("notify: webhook signature does not match")
)

// Sign returns the Rack-Gateway-Signature header of body sent at now:
// "t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<t>.<body>")>", the
// scheme Stripe's webhooks made familiar.
func Sign(secret []byte, now time.Time, body []byte) string {
	t := strconv.FormatInt(now.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a webhook delivery as its receiver: header is the
// Rack-Gateway-Signature header, body the request body exactly as read,
// now the receiver's clock. The delivery is genuine when one of the
// header's v1 signatures (several are allowed, for a secret being
// rotated) is the HMAC-SHA256 of "<t>.<body>" under secret, compared in
// constant time, and t is within tolerance of now (≤ 0:
// DefaultWebhookTolerance), which bounds replays; receivers should also
// drop a Rack-Gateway-Delivery id they have already seen.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrWebhookHeader
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrWebhookHeader
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrWebhookHeader
			}
			sigs = append(sigs, sig)
		}
		// Other schemes (v0, a future v2) are ignored.
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrWebhookHeader
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	want := mac(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		ok = hmac.Equal(sig, want) || ok
	}
	if !ok {
		return ErrWebhookSignature
	}
	return nil
}
