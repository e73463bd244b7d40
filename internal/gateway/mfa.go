package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// policyFor is the access policy the configuration asks for: with MFA
// required (the default), people enrol a second factor, prove it at
// sign-in, and step up for the permissions that need it.
func policyFor(cfg *config.Config) *authz.Policy {
	m := cfg.MFA
	return &authz.Policy{RequireMFA: m.IsRequired(), StepUp: m.IsRequired(), StepUpWindow: m.StepUpWindow.D()}
}

// newMFA builds the second-factor service from the configuration: TOTP
// with the sealing keys, WebAuthn when a relying party is known, YubiKey
// OTP when Yubico credentials are given.
func newMFA(cfg *config.Config, st store.Store, a *audit.Auditor, pol *authz.Policy, an *authn.Authenticator, log *slog.Logger) (*mfa.Service, error) {
	m := cfg.MFA
	mc := mfa.Config{LockAfter: m.LockAfter, TrustDays: max(m.TrustedDeviceDays, 0),
		// Failed codes from one address, across users: a budget of their own.
		IPLimit: limits.NewFailureLimiter(cfg.Limits.FailuresPerMinute/2, max(cfg.Limits.FailureBurst/2, 5), nil)}
	if m.EncryptionKeys != "" {
		keys, err := seal.ParseKeyring(m.EncryptionKeys)
		if err != nil {
			return nil, fmt.Errorf("mfa.encryption_keys (RGW_MFA_ENCRYPTION_KEYS): %w", err)
		}
		mc.Keys = keys
	}
	if m.WebAuthnRPID != "" {
		pk, err := passkey.New(passkey.Config{RPID: m.WebAuthnRPID, RPDisplayName: "Rack Gateway", Origins: m.WebAuthnOrigins})
		if err != nil {
			return nil, fmt.Errorf("mfa.webauthn_rp_id/webauthn_origins: %w", err)
		}
		mc.Passkeys = pk
	}
	if m.YubicoClientID != "" {
		yc, err := yubiotp.NewClient(m.YubicoClientID, m.YubicoAPIKey, m.YubicoServers)
		if err != nil {
			return nil, fmt.Errorf("mfa.yubico_client_id/yubico_api_key: %w", err)
		}
		yc.HTTP = &http.Client{Timeout: 10 * time.Second}
		mc.YubiKey = yc
	}
	if m.IsRequired() && mc.Keys == nil && mc.Passkeys == nil && mc.YubiKey == nil {
		return nil, fmt.Errorf("mfa: required, but no second factor is configured (set mfa.encryption_keys)")
	}
	return mfa.New(st, mc, a, pol, an, log), nil
}
