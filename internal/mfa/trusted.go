package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// TrustCookie is the cookie that carries a trusted browser's token.
const TrustCookie = "rgw_trusted"

// trustPrefix starts every trusted-browser token.
const trustPrefix = "rgwt_"

// ErrTrustOff: trusted browsers are disabled in the configuration.
var ErrTrustOff = errors.New("trusted browsers are disabled on this gateway")

func trustHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// TrustBrowser makes the actor's browser a trusted one for the configured
// days, right after the actor proved a real second factor in this
// session (not one excused by another trusted browser). It returns the
// token for the cookie; only its hash is stored.
func (s *Service) TrustBrowser(ctx context.Context, a Actor) (string, time.Time, error) {
	p, err := person(a)
	if err != nil {
		return "", time.Time{}, err
	}
	if s.cfg.TrustDays <= 0 {
		return "", time.Time{}, ErrTrustOff
	}
	as := p.Assurance
	if as.MFAAt.IsZero() || s.now().Sub(as.MFAAt) > 5*time.Minute {
		return "", time.Time{}, &Invalid{Msg: "trust a browser right after proving a second factor in it"}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	token := trustPrefix + base64.RawURLEncoding.EncodeToString(b)
	exp := s.now().Add(time.Duration(s.cfg.TrustDays) * 24 * time.Hour)
	d := &store.TrustedDevice{Hash: trustHash(token), UserID: p.UserID, UserAgent: a.UserAgent, SourceIP: a.SourceIP, ExpiresAt: exp}
	if err := s.writeAhead(ctx, a, ActionTrustDevice, "", map[string]any{"days": s.cfg.TrustDays}); err != nil {
		return "", time.Time{}, err
	}
	if err := s.st.CreateTrustedDevice(ctx, d); err != nil {
		return "", time.Time{}, s.unavailable("trust a browser", err)
	}
	return token, exp, nil
}

// SignInWithTrustedBrowser passes the session's sign-in second factor
// when token is a live trusted-browser token of the same user. It never
// counts as a step-up proof (the session's proof is
// authn.TrustedDevice, which carries no time for the policy).
func (s *Service) SignInWithTrustedBrowser(ctx context.Context, a Actor, token string) (bool, error) {
	p, err := person(a)
	if err != nil {
		return false, err
	}
	if s.cfg.TrustDays <= 0 || !strings.HasPrefix(token, trustPrefix) || len(token) > 128 {
		return false, nil
	}
	hash := trustHash(token)
	d, err := s.st.GetTrustedDeviceByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, s.unavailable("read a trusted browser", err)
	}
	now := s.now()
	if subtle.ConstantTimeCompare(d.Hash, hash) != 1 || d.UserID != p.UserID || !d.RevokedAt.IsZero() || !now.Before(d.ExpiresAt) {
		return false, nil
	}
	acct, err := s.account(ctx, p.UserID)
	if err != nil || !acct.LockedAt.IsZero() {
		return false, err
	}
	if err := s.st.TouchTrustedDevice(ctx, d.ID); err != nil {
		return false, s.unavailable("use a trusted browser", err)
	}
	if err := s.recordProof(ctx, p, authn.TrustedDevice); err != nil {
		return false, err
	}
	s.audit.Record(s.event(a, ActionVerify, "", map[string]any{"method": authn.TrustedDevice, "device_id": d.ID}))
	return true, nil
}

// TrustedBrowsers lists the actor's trusted browsers.
func (s *Service) TrustedBrowsers(ctx context.Context, a Actor) ([]store.TrustedDevice, error) {
	p := a.Principal
	if p == nil || p.UserID == 0 {
		return nil, ErrNotSession
	}
	ds, err := s.st.ListTrustedDevices(ctx, p.UserID)
	if err != nil {
		return nil, s.unavailable("list trusted browsers", err)
	}
	for i := range ds {
		ds[i].Hash = nil
	}
	return ds, nil
}

// ForgetBrowser revokes one of the actor's trusted browsers; the next
// sign-in from it asks for a second factor again.
func (s *Service) ForgetBrowser(ctx context.Context, a Actor, id int64) error {
	p, err := person(a)
	if err != nil {
		return err
	}
	if err := s.writeAhead(ctx, a, ActionUntrustDevice, "", map[string]any{"device_id": id}); err != nil {
		return err
	}
	if err := s.st.RevokeTrustedDevice(ctx, p.UserID, id); errors.Is(err, store.ErrNotFound) {
		return &Invalid{Msg: "no such trusted browser of yours"}
	} else if err != nil {
		return s.unavailable("forget a browser", err)
	}
	return nil
}
