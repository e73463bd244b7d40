package passkey

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Credential is a registered WebAuthn credential as the caller stores it.
// Only ID, PublicKey, SignCount and the flags matter for later logins; the
// rest is for display and audit.
type Credential struct {
	// ID is the credential ID chosen by the authenticator (up to 1023
	// bytes). It is unique across all users; index it.
	ID []byte `json:"id"`
	// PublicKey is the credential public key, COSE-encoded.
	PublicKey []byte `json:"publicKey"`
	// AttestationFormat is the attestation statement format ("none" with
	// this package's settings).
	AttestationFormat string `json:"attestationFormat,omitempty"`
	// AttestationType is the attestation type, when known.
	AttestationType string `json:"attestationType,omitempty"`
	// SignCount is the last signature counter seen (0 for authenticators
	// without a counter, as most synced passkeys are).
	SignCount uint32 `json:"signCount"`
	// AAGUID identifies the authenticator model (all zero with attestation
	// "none" on many platforms).
	AAGUID []byte `json:"aaguid,omitempty"`
	// Transports are the browser's hints for reaching the authenticator
	// ("internal", "usb", "hybrid", ...).
	Transports []string `json:"transports,omitempty"`
	// Attachment is "platform" or "cross-platform" as the browser reported
	// at registration, or empty.
	Attachment string `json:"attachment,omitempty"`
	// UserPresent, UserVerified, BackupEligible and BackupState are the
	// authenticator data flags of the last ceremony.
	UserPresent    bool `json:"userPresent"`
	UserVerified   bool `json:"userVerified"`
	BackupEligible bool `json:"backupEligible"`
	BackupState    bool `json:"backupState"`
}

// IDString is the credential ID in base64url without padding, as browsers
// and the options JSON spell it; convenient as a text key.
func (c Credential) IDString() string { return base64.RawURLEncoding.EncodeToString(c.ID) }

// Marshal encodes the credential as JSON for storage.
func (c Credential) Marshal() ([]byte, error) { return json.Marshal(c) }

// UnmarshalCredential decodes what Marshal produced.
func UnmarshalCredential(b []byte) (Credential, error) {
	var c Credential
	if err := json.Unmarshal(b, &c); err != nil {
		return Credential{}, fmt.Errorf("passkey: decode credential: %w", err)
	}
	if len(c.ID) == 0 || len(c.PublicKey) == 0 {
		return Credential{}, errors.New("passkey: decode credential: missing id or public key")
	}
	return c, nil
}

func (c Credential) flags() protocol.AuthenticatorFlags {
	var f protocol.AuthenticatorFlags
	for _, b := range []struct {
		set  bool
		flag protocol.AuthenticatorFlags
	}{
		{c.UserPresent, protocol.FlagUserPresent}, {c.UserVerified, protocol.FlagUserVerified},
		{c.BackupEligible, protocol.FlagBackupEligible}, {c.BackupState, protocol.FlagBackupState},
	} {
		if b.set {
			f |= b.flag
		}
	}
	return f
}

func (c Credential) toLib() webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                c.ID,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(c.flags()),
		Authenticator: webauthn.Authenticator{
			AAGUID:     c.AAGUID,
			SignCount:  c.SignCount,
			Attachment: protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}

func fromLib(lc *webauthn.Credential) Credential {
	transports := make([]string, len(lc.Transport))
	for i, t := range lc.Transport {
		transports[i] = string(t)
	}
	return Credential{
		ID:                lc.ID,
		PublicKey:         lc.PublicKey,
		AttestationFormat: lc.AttestationFormat,
		AttestationType:   lc.AttestationType,
		SignCount:         lc.Authenticator.SignCount,
		AAGUID:            lc.Authenticator.AAGUID,
		Transports:        transports,
		Attachment:        string(lc.Authenticator.Attachment),
		UserPresent:       lc.Flags.UserPresent,
		UserVerified:      lc.Flags.UserVerified,
		BackupEligible:    lc.Flags.BackupEligible,
		BackupState:       lc.Flags.BackupState,
	}
}
