package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// bindingKeySetting holds the key that signs browser-binding cookies,
// shared by every replica through the database.
const bindingKeySetting = "login.binding_key"

// loadBindingKey reads the key that signs browser-binding cookies, making
// it on first use. Replicas starting together may each write one; all
// then use the one that stands (read back after writing).
func loadBindingKey(ctx context.Context, st store.Settings) ([]byte, error) {
	v, err := st.GetSetting(ctx, bindingKeySetting)
	if errors.Is(err, store.ErrNotFound) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := st.SetSetting(ctx, bindingKeySetting, base64.StdEncoding.EncodeToString(k)); err != nil {
			return nil, err
		}
		v, err = st.GetSetting(ctx, bindingKeySetting)
	}
	if err != nil {
		return nil, fmt.Errorf("login: binding key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(k) < 32 {
		return nil, errors.New("login: the stored binding key is malformed")
	}
	return k, nil
}

// mintBinding returns a new browser-binding value: a random id and the
// gateway's MAC of it. Only values the gateway minted are ever accepted
// (validBinding), so a client cannot choose the value its login is bound
// to.
func (h *Handler) mintBinding() string {
	id := randomString()
	return id + "." + h.bindingMAC(id)
}

// validBinding reports whether v is a binding value this gateway minted.
func (h *Handler) validBinding(v string) bool {
	id, mac, ok := strings.Cut(v, ".")
	if !ok || !isB64URL(id, 43, 43) || !isB64URL(mac, 22, 22) {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(h.bindingMAC(id)))
}

func (h *Handler) bindingMAC(id string) string {
	m := hmac.New(sha256.New, h.bindingKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
