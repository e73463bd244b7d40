// Package passkey is the WebAuthn (passkey / security key) building block of
// the gateway's multi-factor authentication. It wraps
// github.com/go-webauthn/webauthn, which does all the protocol verification;
// this package only adds what the gateway needs around it: a plain credential
// record the caller can store, ceremony state with an expiry read from an
// injectable clock, and sentinel errors for the refusals that matter.
//
// A ceremony has two halves. Begin* returns the options JSON for the browser
// (served to internal/web/console/static/webauthn.js) and an opaque state.
// The caller MUST keep that state on the server, bound to the web session
// that asked for it (never in a cookie or form field: it is not signed, and
// it holds the challenge and the allowed credentials), hand it to Finish*
// at most once (delete it before or when calling Finish*, whatever the
// outcome) and drop it when the web session ends. The state also carries its
// expiry, so Finish* refuses a state older than Config.TTL even if the
// caller forgot to expire it.
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// DefaultTTL is how long a ceremony state is valid when Config.TTL is zero.
// It is also the timeout the browser is given for the ceremony.
const DefaultTTL = 5 * time.Minute

// Sentinel errors. Finish* wraps one of them (test with errors.Is) around the
// library's error where there is one, so the message says what the library
// found.
var (
	// ErrInvalidState: the state is missing, malformed, or belongs to the
	// other kind of ceremony (a registration state given to FinishLogin).
	// A replay after the caller deleted the used state lands here.
	ErrInvalidState = errors.New("passkey: no valid ceremony state")
	// ErrExpired: the state is older than Config.TTL.
	ErrExpired = errors.New("passkey: ceremony state expired")
	// ErrUserMismatch: the state was issued for another user.
	ErrUserMismatch = errors.New("passkey: ceremony state was issued for another user")
	// ErrMalformed: the browser's response could not be parsed.
	ErrMalformed = errors.New("passkey: malformed authenticator response")
	// ErrChallenge: the response answers a different challenge than the
	// state's (a replayed response, or one made for another ceremony).
	ErrChallenge = errors.New("passkey: challenge does not match")
	// ErrOrigin: the response was made on a page whose origin is not in
	// Config.Origins.
	ErrOrigin = errors.New("passkey: origin not allowed")
	// ErrUnknownCredential: the assertion was made with a credential that is
	// not among the user's credentials (or not among those the state allowed).
	ErrUnknownCredential = errors.New("passkey: credential not registered for this user")
	// ErrCloned: the signature counter did not increase although the stored
	// or the received counter is non-zero, a sign that the authenticator was
	// cloned or the assertion replayed.
	ErrCloned = errors.New("passkey: signature counter did not increase (possible cloned authenticator)")
	// ErrAlreadyRegistered: registration produced a credential ID the user
	// already has.
	ErrAlreadyRegistered = errors.New("passkey: credential already registered")
	// ErrVerification: any other verification failure of the library (bad
	// signature, RP ID hash, flags, attestation, ...).
	ErrVerification = errors.New("passkey: verification failed")
)

// Config describes the relying party.
type Config struct {
	// RPID is the relying party ID: the gateway's host name or a registrable
	// suffix of it, never an IP address and without scheme or port
	// ("gateway.example.com", "localhost" in dev mode). Credentials are bound
	// to it, so changing it later orphans every registered passkey.
	RPID string
	// RPDisplayName is the name authenticators show ("Rack Gateway").
	RPDisplayName string
	// Origins are the exact origins (scheme://host[:port]) the pages run on.
	// Each host must be RPID or a subdomain of it. Plain http is accepted
	// only for localhost, the one insecure origin browsers allow WebAuthn on.
	Origins []string
	// TTL bounds how long a ceremony state is valid; zero means DefaultTTL.
	TTL time.Duration
	// Now tells the time; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	rpid := c.RPID
	switch {
	case rpid == "":
		return errors.New("passkey: RPID is empty")
	case net.ParseIP(strings.Trim(rpid, "[]")) != nil:
		return fmt.Errorf("passkey: RPID %q is an IP address; browsers accept only domain names", rpid)
	case strings.ContainsAny(rpid, ":/?#@ ") || rpid != strings.ToLower(rpid) || strings.HasPrefix(rpid, ".") || strings.HasSuffix(rpid, "."):
		return fmt.Errorf("passkey: RPID %q must be a bare lower-case host name", rpid)
	}
	if err := protocol.ValidateRPID(rpid); err != nil {
		return fmt.Errorf("passkey: RPID %q: %w", rpid, err)
	}
	if strings.TrimSpace(c.RPDisplayName) == "" {
		return errors.New("passkey: RPDisplayName is empty")
	}
	if len(c.Origins) == 0 {
		return errors.New("passkey: no Origins")
	}
	for _, o := range c.Origins {
		if err := validateOrigin(o, rpid); err != nil {
			return err
		}
	}
	if c.TTL < 0 {
		return fmt.Errorf("passkey: negative TTL %v", c.TTL)
	}
	return nil
}

func validateOrigin(o, rpid string) error {
	u, err := url.Parse(o)
	if err != nil {
		return fmt.Errorf("passkey: origin %q: %w", o, err)
	}
	if u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("passkey: origin %q must be scheme://host[:port] and nothing else", o)
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		// Browsers treat localhost as a secure context; any other http page
		// cannot use WebAuthn at all.
		if host != "localhost" && !strings.HasSuffix(host, ".localhost") {
			return fmt.Errorf("passkey: origin %q: plain http works only on localhost", o)
		}
	default:
		return fmt.Errorf("passkey: origin %q: scheme must be https (or http on localhost)", o)
	}
	if host != rpid && !strings.HasSuffix(host, "."+rpid) {
		return fmt.Errorf("passkey: origin %q is not on RPID %q or a subdomain of it", o, rpid)
	}
	return nil
}

// Service runs WebAuthn ceremonies. It holds no per-user or per-ceremony
// data, so one Service serves every request concurrently.
type Service struct {
	wa  *webauthn.WebAuthn
	ttl time.Duration
	now func() time.Time
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	// The library's own expiry (Timeouts.*.Enforce) reads time.Now; it stays
	// off and this package checks the expiry it writes into the state with
	// the injected clock instead. The timeouts only tell the browser how long
	// to wait.
	timeout := webauthn.TimeoutConfig{Timeout: ttl, TimeoutUVD: ttl}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPDisplayName,
		RPOrigins:     append([]string(nil), cfg.Origins...),
		// No attestation: the gateway does not restrict authenticator
		// models, and "none" spares users a privacy prompt.
		AttestationPreference: protocol.PreferNoAttestation,
		// No attachment: platform passkeys and roaming security keys are
		// both welcome. Discoverable credentials and user verification are
		// preferred, not required, so plain U2F-style keys still work.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			UserVerification:   protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{wa: wa, ttl: ttl, now: now}, nil
}

// User is the account a ceremony is for, filled in by the caller.
type User struct {
	// ID is the user handle: a stable, opaque, random value of 1–64 bytes
	// (16 random bytes are plenty) stored with the user. It must not be the
	// email or anything else personal: authenticators store it and return it
	// with every assertion.
	ID []byte
	// Name is the account name authenticators show (the email is fine here).
	Name string
	// DisplayName is the person's name; empty means Name.
	DisplayName string
	// Credentials are the user's registered credentials.
	Credentials []Credential
}

func (u User) validate() error {
	if len(u.ID) == 0 || len(u.ID) > 64 {
		return fmt.Errorf("passkey: user handle must be 1–64 bytes, not %d", len(u.ID))
	}
	if u.Name == "" {
		return errors.New("passkey: user name is empty")
	}
	return nil
}

// libUser adapts User to webauthn.User.
type libUser struct {
	u     User
	creds []webauthn.Credential
}

func newLibUser(u User) libUser {
	lu := libUser{u: u, creds: make([]webauthn.Credential, len(u.Credentials))}
	for i, c := range u.Credentials {
		lu.creds[i] = c.toLib()
	}
	return lu
}

func (lu libUser) WebAuthnID() []byte   { return lu.u.ID }
func (lu libUser) WebAuthnName() string { return lu.u.Name }
func (lu libUser) WebAuthnDisplayName() string {
	if lu.u.DisplayName == "" {
		return lu.u.Name
	}
	return lu.u.DisplayName
}
func (lu libUser) WebAuthnCredentials() []webauthn.Credential { return lu.creds }

const (
	kindRegistration = "registration"
	kindLogin        = "login"
)

// ceremonyState is what the opaque state bytes hold.
type ceremonyState struct {
	V       int                  `json:"v"`
	Kind    string               `json:"kind"`
	Expires time.Time            `json:"expires"`
	Session webauthn.SessionData `json:"session"`
}

func (s *Service) encodeState(kind string, sd *webauthn.SessionData) ([]byte, error) {
	b, err := json.Marshal(ceremonyState{V: 1, Kind: kind, Expires: s.now().Add(s.ttl), Session: *sd})
	if err != nil {
		return nil, fmt.Errorf("passkey: encode state: %w", err)
	}
	return b, nil
}

// decodeState checks the state's kind, expiry and user before anything from
// the browser is looked at.
func (s *Service) decodeState(b []byte, kind string, u User) (webauthn.SessionData, error) {
	var st ceremonyState
	if len(b) == 0 {
		return st.Session, ErrInvalidState
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st.Session, fmt.Errorf("%w: %v", ErrInvalidState, err)
	}
	if st.V != 1 || st.Kind != kind || st.Session.Challenge == "" || st.Expires.IsZero() {
		return st.Session, fmt.Errorf("%w: not a %s state", ErrInvalidState, kind)
	}
	if now := s.now(); !now.Before(st.Expires) {
		return st.Session, fmt.Errorf("%w: expired at %s", ErrExpired, st.Expires.Format(time.RFC3339))
	}
	if !bytes.Equal(st.Session.UserID, u.ID) {
		return st.Session, ErrUserMismatch
	}
	st.Session.Expires = time.Time{} // checked above with the injected clock
	return st.Session, nil
}

// BeginRegistration starts registering a new credential for u. optionsJSON
// is {"publicKey": {...}} for navigator.credentials.create (webauthn.js
// decodes the base64url fields); state is for FinishRegistration, kept on
// the server (see the package documentation). u's existing credentials are
// excluded, so an authenticator cannot be registered twice.
func (s *Service) BeginRegistration(u User) (optionsJSON, state []byte, err error) {
	if err := u.validate(); err != nil {
		return nil, nil, err
	}
	lu := newLibUser(u)
	creation, sd, err := s.wa.BeginRegistration(lu,
		webauthn.WithExclusions(webauthn.Credentials(lu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	if optionsJSON, err = json.Marshal(creation); err != nil {
		return nil, nil, fmt.Errorf("passkey: encode options: %w", err)
	}
	if state, err = s.encodeState(kindRegistration, sd); err != nil {
		return nil, nil, err
	}
	return optionsJSON, state, nil
}

// FinishRegistration verifies the browser's response (the JSON webauthn.js
// puts in the form field "credential") against state and returns the new
// credential for the caller to store with u. The caller must also make sure
// the credential ID is not registered to another user.
func (s *Service) FinishRegistration(u User, state, body []byte) (Credential, error) {
	sd, err := s.decodeState(state, kindRegistration, u)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return Credential{}, classify(ErrMalformed, err)
	}
	lc, err := s.wa.CreateCredential(newLibUser(u), sd, parsed)
	if err != nil {
		return Credential{}, classify(ErrVerification, err)
	}
	if u.hasCredential(lc.ID) {
		return Credential{}, ErrAlreadyRegistered
	}
	return fromLib(lc), nil
}

// BeginLogin starts an assertion with one of u's credentials (u must have
// at least one). optionsJSON is {"publicKey": {...}} for
// navigator.credentials.get; state is for FinishLogin.
func (s *Service) BeginLogin(u User) (optionsJSON, state []byte, err error) {
	if err := u.validate(); err != nil {
		return nil, nil, err
	}
	if len(u.Credentials) == 0 {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", ErrUnknownCredential)
	}
	assertion, sd, err := s.wa.BeginLogin(newLibUser(u))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	if optionsJSON, err = json.Marshal(assertion); err != nil {
		return nil, nil, fmt.Errorf("passkey: encode options: %w", err)
	}
	if state, err = s.encodeState(kindLogin, sd); err != nil {
		return nil, nil, err
	}
	return optionsJSON, state, nil
}

// FinishLogin verifies the browser's assertion against state and u's
// credentials. On success it returns the credential that was used, with the
// new signature counter and flags; the caller must store it (replacing the
// old record with the same ID) so that the next login's counter check works.
func (s *Service) FinishLogin(u User, state, body []byte) (Credential, error) {
	sd, err := s.decodeState(state, kindLogin, u)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Credential{}, classify(ErrMalformed, err)
	}
	// Checked here, too, so the refusal does not depend on the library's
	// order of checks.
	if !u.hasCredential(parsed.RawID) {
		return Credential{}, ErrUnknownCredential
	}
	lc, err := s.wa.ValidateLogin(newLibUser(u), sd, parsed)
	if err != nil {
		return Credential{}, classify(ErrVerification, err)
	}
	// The library only flags a counter that did not increase; for the
	// gateway that is a refusal.
	if lc.Authenticator.CloneWarning {
		return Credential{}, fmt.Errorf("%w: stored %d, received %d", ErrCloned,
			u.credential(parsed.RawID).SignCount, parsed.Response.AuthenticatorData.Counter)
	}
	return fromLib(lc), nil
}

func (u User) credential(id []byte) Credential {
	for _, c := range u.Credentials {
		if bytes.Equal(c.ID, id) {
			return c
		}
	}
	return Credential{}
}

func (u User) hasCredential(id []byte) bool {
	for _, c := range u.Credentials {
		if bytes.Equal(c.ID, id) {
			return true
		}
	}
	return false
}

// classify maps a library error to a sentinel. The library reports these
// cases only as *protocol.Error values told apart by their Details text, so
// this match is tied to the library version (tests cover each case).
func classify(fallback, err error) error {
	sentinel := fallback
	var unknown *protocol.ErrorUnknownCredential
	var pe *protocol.Error
	switch {
	case errors.As(err, &unknown):
		sentinel = ErrUnknownCredential
	case errors.As(err, &pe):
		switch pe.Details {
		case "Error validating challenge":
			sentinel = ErrChallenge
		case "Error validating origin", "Error validating cross origin flag",
			"Error validating topOrigin", "Error validating top origin":
			sentinel = ErrOrigin
		case "User does not own all credentials from the allowed credential list",
			"The credential ID provided is not in the sessions allowed credential list",
			"Unable to find the credential for the returned credential ID":
			sentinel = ErrUnknownCredential
		case "ID mismatch for User and Session", "User handle and User ID do not match":
			sentinel = ErrUserMismatch
		}
		if info := strings.Join(strings.Fields(pe.DevInfo), " "); info != "" {
			return fmt.Errorf("%w: %w (%s)", sentinel, err, info)
		}
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
