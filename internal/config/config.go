// Package config holds the gateway's configuration: plain structs documented
// where declared, loaded from a JSON file and RGW_* environment variables,
// and validated separately (validate.go) with errors that name the setting.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"time"
)

// Config is the whole gateway configuration.
type Config struct {
	// Addr is the listen address (RGW_ADDR). Default ":8447" for serve,
	// "127.0.0.1:8447" for dev.
	Addr string `json:"addr"`
	// DatabaseURL selects the store (RGW_DATABASE_URL): "sqlite:PATH" or
	// "postgres://…". Default "sqlite:rack-gateway.db".
	DatabaseURL string `json:"database_url"`
	// TLSCertFile and TLSKeyFile make the gateway serve HTTPS itself
	// (RGW_TLS_CERT, RGW_TLS_KEY). Usually a load balancer terminates TLS.
	TLSCertFile string `json:"tls_cert_file"`
	TLSKeyFile  string `json:"tls_key_file"`

	// Racks are the racks this gateway fronts; each is served under
	// /racks/<name>, and DefaultRack also under /rack.
	Racks []Rack `json:"racks"`
	// DefaultRack names the rack served under /rack (RGW_DEFAULT_RACK).
	// Defaults to the first rack.
	DefaultRack string `json:"default_rack"`

	// SecretEnvPatterns extends the built-in list of substrings (SECRET,
	// TOKEN, PASSWORD, KEY, CREDENTIAL, DSN, DATABASE_URL) that mark an env
	// var as secret (RGW_SECRET_ENV_PATTERNS, comma-separated).
	SecretEnvPatterns []string `json:"secret_env_patterns"`
	// ProtectedEnvKeys can be changed only by callers with env:protected
	// (RGW_PROTECTED_ENV_KEYS, comma-separated).
	ProtectedEnvKeys []string `json:"protected_env_keys"`

	// TrustedProxies are CIDRs of load balancers whose X-Forwarded-For is
	// believed for the source IP (RGW_TRUSTED_PROXIES, comma-separated).
	TrustedProxies []string `json:"trusted_proxies"`

	// MaxHeaderBytes bounds request headers (RGW_MAX_HEADER_BYTES). Default 64 KiB.
	MaxHeaderBytes int `json:"max_header_bytes"`
	// ReadHeaderTimeout bounds reading request headers. Default 30s.
	ReadHeaderTimeout Duration `json:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout Duration `json:"idle_timeout"`
	// RequestTimeout bounds how long the rack may take to start answering a
	// call (RGW_REQUEST_TIMEOUT). Once it answers, streams (logs, exec,
	// uploads, downloads) are not bounded. Default 5m.
	RequestTimeout Duration `json:"request_timeout"`
	// StreamRecheckInterval is how often open websockets and streams are
	// decided again from the database, so that a revoked token or
	// session, a disabled user or a lowered role ends them on every
	// replica (RGW_STREAM_RECHECK_INTERVAL, default 5s, at least 1s).
	// Changes made through this gateway end its own streams at once.
	StreamRecheckInterval Duration `json:"stream_recheck_interval"`
	// Limits protect the gateway from floods.
	Limits Limits `json:"limits"`
	// ShutdownTimeout is how long graceful shutdown waits for in-flight
	// requests and streams (RGW_SHUTDOWN_TIMEOUT). Default 30s.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// TokenCacheTTL is how long an authenticated token is trusted without a
	// database read (RGW_TOKEN_CACHE_TTL). Revocations made through this
	// gateway take effect at once; on other replicas within this TTL.
	// Default 5s.
	TokenCacheTTL Duration `json:"token_cache_ttl"`

	// LogLevel is debug, info, warn or error (RGW_LOG_LEVEL). Default info.
	LogLevel string `json:"log_level"`

	// Audit configures the tamper-evident audit trail.
	Audit Audit `json:"audit"`

	// PublicURL is the gateway's external base URL, e.g.
	// https://gateway.example.com (RGW_PUBLIC_URL); login redirects and
	// cookies derive from it (cookies are Secure when it is https).
	// Required with OIDC.
	PublicURL string `json:"public_url"`

	// MetricsAddr serves /metrics on its own listener instead of the main
	// one (RGW_METRICS_ADDR), e.g. 127.0.0.1:9447 for a local scraper.
	MetricsAddr string `json:"metrics_addr"`
	// MetricsTokenFile holds a bearer token /metrics then requires
	// (RGW_METRICS_TOKEN_FILE); MetricsToken is read from it.
	MetricsTokenFile string `json:"metrics_token_file"`
	MetricsToken     string `json:"-"`
	// OIDC configures login for people (web console and CLI).
	OIDC OIDC `json:"oidc"`
	// Sessions bounds login sessions.
	Sessions Sessions `json:"sessions"`
	// MFA configures second factors.
	MFA MFA `json:"mfa"`
	// Approvals is the deploy approval policy: which CI deploys need a
	// person's approval (two-person rule). Racks and apps without a rule
	// deploy as before.
	Approvals Approvals `json:"approvals"`
	// Notify configures notifications (Slack, email, webhooks) of
	// approvals and security events.
	Notify Notify `json:"notify"`
}

// MFA configures second factors: which are offered, and the policy that
// requires them (which permissions need a step-up is data in
// internal/authz/requirements.go).
type MFA struct {
	// Required makes every person enrol a second factor and prove it at
	// sign-in, and puts step-up per permission in force
	// (RGW_MFA_REQUIRED, default true). With false, people are never
	// asked (for trying the gateway out; not for production).
	Required *bool `json:"required"`
	// StepUpWindow is how long a second factor counts as recent for the
	// permissions that need one (RGW_MFA_STEP_UP_WINDOW, default 10m).
	StepUpWindow Duration `json:"step_up_window"`
	// EncryptionKeys seal TOTP secrets at rest with AES-256-GCM: a
	// comma-separated list of id:base64key (32-byte keys), the first of
	// which seals; the others only open, so a new key is rolled in by
	// putting it first (RGW_MFA_ENCRYPTION_KEYS, or
	// RGW_MFA_ENCRYPTION_KEYS_FILE). `rack-gateway mfa-keygen` makes one.
	// Required while MFA is required.
	EncryptionKeys     string `json:"encryption_keys"`
	EncryptionKeysFile string `json:"encryption_keys_file"`
	// LockAfter is how many failed second-factor attempts in a row lock a
	// person out until an admin unlocks them (RGW_MFA_LOCK_AFTER,
	// default 10).
	LockAfter int `json:"lock_after"`
	// TrustedDeviceDays is how long "trust this browser" skips the sign-in
	// second factor (never step-up) (RGW_MFA_TRUSTED_DEVICE_DAYS, default
	// 30; -1 disables trusted browsers).
	TrustedDeviceDays int `json:"trusted_device_days"`
	// WebAuthnRPID and WebAuthnOrigins are the WebAuthn relying party ID
	// (a domain name) and the exact origins of the console
	// (RGW_MFA_WEBAUTHN_RP_ID, RGW_MFA_WEBAUTHN_ORIGINS). Defaults: the
	// public URL's host and origin, when that host is a domain name;
	// otherwise WebAuthn is off.
	WebAuthnRPID    string   `json:"webauthn_rp_id"`
	WebAuthnOrigins []string `json:"webauthn_origins"`
	// YubicoClientID and YubicoAPIKey enable YubiKey OTP, validated by
	// YubiCloud or the servers in YubicoServers (RGW_MFA_YUBICO_CLIENT_ID,
	// RGW_MFA_YUBICO_API_KEY or RGW_MFA_YUBICO_API_KEY_FILE,
	// RGW_MFA_YUBICO_SERVERS).
	YubicoClientID   string   `json:"yubico_client_id"`
	YubicoAPIKey     string   `json:"yubico_api_key"`
	YubicoAPIKeyFile string   `json:"yubico_api_key_file"`
	YubicoServers    []string `json:"yubico_servers"`
}

// IsRequired reports whether MFA is required (the default).
func (m MFA) IsRequired() bool { return m.Required == nil || *m.Required }

// Approvals configures deploy approvals.
type Approvals struct {
	// Rules are matched in order against a deploy's rack and app; the
	// first that matches is its policy.
	Rules []ApprovalRule `json:"rules"`
	// SweepInterval is how often requests whose time ran out are marked
	// expired (and notified). Default 1m.
	SweepInterval Duration `json:"sweep_interval"`
	// GitHubAPIURL is the GitHub REST API root for commit checks
	// (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).
	GitHubAPIURL string `json:"github_api_url"`
	// GitHubToken (or the file GitHubTokenFile holds) reads the rules'
	// repositories: contents and pull requests (RGW_APPROVALS_GITHUB_TOKEN,
	// RGW_APPROVALS_GITHUB_TOKEN_FILE).
	GitHubToken     string `json:"github_token"`
	GitHubTokenFile string `json:"github_token_file"`
}

// ApprovalRule is the approval policy of the racks and apps it matches.
type ApprovalRule struct {
	// Rack and App are glob patterns (path.Match: *, ?, [a-z]); empty or
	// "*" matches every rack or app.
	Rack string `json:"rack"`
	App  string `json:"app"`
	// Approvals is how many distinct people must approve (N of M).
	// Default 1.
	Approvals int `json:"approvals"`
	// ApproverRoles are roles (on the deploy's rack) whose holders may
	// approve; ApproverUsers are emails of people who may. Approving also
	// needs deploy:approve (deployer, admin). Both empty: admins only.
	ApproverRoles []string `json:"approver_roles"`
	ApproverUsers []string `json:"approver_users"`
	// RequestTTL is how long a request waits for approval. Default 24h.
	RequestTTL Duration `json:"request_ttl"`
	// Window is how long the deploy may run once approved: its upload,
	// build and promote. Default 15m.
	Window Duration `json:"window"`
	// RunCommands are `convox run` commands (exact, e.g. "bin/migrate")
	// the approved CI token may run on the app within the window. A CI
	// token's runs on an app a rule covers need an approval.
	RunCommands []string `json:"run_commands"`
	// Images, if set, is an anchored regular expression every image the
	// uploaded source's convox.yml names must match; {{GIT_COMMIT}} in it
	// is the approved commit, e.g. "^registry\\.example\\.com/web:{{GIT_COMMIT}}$".
	// RequireImages also fails services the rack would build from source.
	Images        string `json:"images"`
	RequireImages bool   `json:"require_images"`
	// GitHubRepo ("owner/name"), if set, is checked when CI asks: the
	// commit must be on one of Branches, or (OpenPR) in an open pull
	// request of the repository (from a fork only with AllowForkPRs).
	GitHubRepo   string   `json:"github_repo"`
	Branches     []string `json:"branches"`
	OpenPR       bool     `json:"open_pr"`
	AllowForkPRs bool     `json:"allow_fork_prs"`
}

// OIDC configures login with an OpenID Connect provider. Google Workspace is
// first-class: with the issuer https://accounts.google.com, AllowedDomains
// are checked against the hd claim and the email's domain.
type OIDC struct {
	// Issuer is the provider's issuer URL (RGW_OIDC_ISSUER), discovered
	// through /.well-known/openid-configuration. Empty disables login.
	Issuer string `json:"issuer"`
	// ProviderName is shown on the sign-in button (RGW_OIDC_PROVIDER_NAME);
	// default "Google" for Google, else the issuer's host.
	ProviderName string `json:"provider_name"`
	// ClientID and ClientSecret of the gateway's OAuth client
	// (RGW_OIDC_CLIENT_ID, RGW_OIDC_CLIENT_SECRET or
	// RGW_OIDC_CLIENT_SECRET_FILE).
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	ClientSecretFile string `json:"client_secret_file"`
	// Scopes requested (RGW_OIDC_SCOPES). Default openid, email, profile
	// (plus the groups scope if GroupsClaim is set and you add it here).
	Scopes []string `json:"scopes"`
	// AllowedDomains restricts logins to these email domains; for Google the
	// hd claim must match too (RGW_OIDC_ALLOWED_DOMAINS). Empty allows any
	// verified email of an existing user.
	AllowedDomains []string `json:"allowed_domains"`
	// GroupsClaim names a claim holding group names (RGW_OIDC_GROUPS_CLAIM);
	// GroupRoles maps a group to a role; the highest mapped role wins and
	// is applied to the user at each login.
	GroupsClaim string            `json:"groups_claim"`
	GroupRoles  map[string]string `json:"group_roles"`
	// AutoProvisionEmails and AutoProvisionDomains let people not yet known
	// to the gateway in, created with DefaultRole
	// (RGW_OIDC_AUTO_PROVISION_EMAILS, RGW_OIDC_AUTO_PROVISION_DOMAINS,
	// RGW_OIDC_DEFAULT_ROLE, default viewer). Otherwise users must be
	// created by an admin first.
	AutoProvisionEmails  []string `json:"auto_provision_emails"`
	AutoProvisionDomains []string `json:"auto_provision_domains"`
	DefaultRole          string   `json:"default_role"`
}

// Sessions bounds login sessions.
type Sessions struct {
	// WebIdle and WebAbsolute bound web sessions (RGW_SESSION_WEB_IDLE,
	// RGW_SESSION_WEB_ABSOLUTE). Defaults 30m and 12h.
	WebIdle     Duration `json:"web_idle"`
	WebAbsolute Duration `json:"web_absolute"`
	// CLIAbsolute bounds CLI sessions (RGW_SESSION_CLI_ABSOLUTE); default
	// 720h (30 days). CLIIdle, default none (RGW_SESSION_CLI_IDLE).
	CLIAbsolute Duration `json:"cli_absolute"`
	CLIIdle     Duration `json:"cli_idle"`
}

// Audit configures the audit trail: checkpoint signing, WORM anchors, the
// key for hashing secret values, verification and SIEM streaming.
type Audit struct {
	// Origin names this gateway in signed checkpoints (RGW_AUDIT_ORIGIN).
	// Default: the host name.
	Origin string `json:"origin"`
	// SigningKeyFile is the Ed25519 checkpoint signing key, PEM PKCS #8
	// (RGW_AUDIT_SIGNING_KEY_FILE); or SigningKey holds it inline, PEM or
	// the base64 of a 32-byte seed (RGW_AUDIT_SIGNING_KEY). One is required
	// by serve; `rack-gateway audit keygen` makes one.
	SigningKeyFile string `json:"signing_key_file"`
	SigningKey     string `json:"signing_key"`
	// PublicKeyFile is the checkpoint public key for verification where the
	// signing key is not available, e.g. an auditor's machine
	// (RGW_AUDIT_PUBLIC_KEY_FILE).
	PublicKeyFile string `json:"public_key_file"`
	// HMACKeyFile / HMACKey is the secret (≥ 32 bytes; base64 inline) that
	// keys the hashes recorded instead of env values, so that `audit
	// check-value` can answer "was it set to X?" (RGW_AUDIT_HMAC_KEY_FILE,
	// RGW_AUDIT_HMAC_KEY). Required by serve.
	HMACKeyFile string `json:"hmac_key_file"`
	HMACKey     string `json:"hmac_key"`

	// QueueSize is how many routine audit events may wait for the
	// database (RGW_AUDIT_QUEUE_SIZE, default 16384). While the database
	// is down, reads are served until the queue is full (at 100 calls a
	// second, the default lasts about 2.7 minutes); then every call is
	// refused at once with 503 until it is back. Changes are refused
	// from the first second of an outage (they are written ahead).
	QueueSize int `json:"queue_size"`

	// CheckpointEvery and CheckpointInterval: a checkpoint is signed after
	// this many events or this long, whichever is first, if there are new
	// events (RGW_AUDIT_CHECKPOINT_EVERY, RGW_AUDIT_CHECKPOINT_INTERVAL).
	// Defaults 1000 and 60s.
	CheckpointEvery    int64    `json:"checkpoint_every"`
	CheckpointInterval Duration `json:"checkpoint_interval"`
	// VerifyInterval is how often the gateway verifies its own log against
	// the anchors (RGW_AUDIT_VERIFY_INTERVAL); a failure raises the metric
	// rgw_audit_verify_failed and writes an audit event. Default 1h; "0s"
	// disables.
	VerifyInterval *Duration `json:"verify_interval"`

	// AnchorDir writes anchors to a local directory
	// (RGW_AUDIT_ANCHOR_DIR). It is NOT write-once storage; use S3 in
	// production. Exactly one of AnchorDir and S3.Bucket is required.
	AnchorDir string `json:"anchor_dir"`
	// S3 is the Object Lock bucket for anchors.
	S3 S3Anchors `json:"s3"`

	// Stdout streams every committed event as NDJSON to standard output
	// (RGW_AUDIT_STDOUT=1), for a log shipper.
	Stdout bool `json:"stdout"`
	// WebhookURL streams committed events as NDJSON batches to an HTTPS
	// endpoint (RGW_AUDIT_WEBHOOK_URL); WebhookAuthorization is sent as
	// the Authorization header (RGW_AUDIT_WEBHOOK_AUTHORIZATION).
	WebhookURL           string `json:"webhook_url"`
	WebhookAuthorization string `json:"webhook_authorization"`
	WebhookCAFile        string `json:"webhook_ca_file"`

	// CreateKeys makes missing key files on start (dev mode and tests
	// only; not settable from the environment or a file).
	CreateKeys bool `json:"-"`
}

// S3Anchors is an S3 bucket with Object Lock for checkpoint anchors.
type S3Anchors struct {
	// Bucket must have Object Lock enabled (RGW_AUDIT_S3_BUCKET).
	Bucket string `json:"bucket"`
	// Prefix is prepended to anchor keys (RGW_AUDIT_S3_PREFIX).
	Prefix string `json:"prefix"`
	// Region (RGW_AUDIT_S3_REGION), default us-east-1.
	Region string `json:"region"`
	// Endpoint for S3-compatible servers (RGW_AUDIT_S3_ENDPOINT); empty
	// means AWS. PathStyle addressing (RGW_AUDIT_S3_PATH_STYLE=1).
	Endpoint  string `json:"endpoint"`
	PathStyle bool   `json:"path_style"`
	// Static credentials (RGW_AUDIT_S3_ACCESS_KEY_ID,
	// RGW_AUDIT_S3_SECRET_ACCESS_KEY); empty uses the AWS default chain.
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// RetentionDays of COMPLIANCE-mode retention on each anchor
	// (RGW_AUDIT_S3_RETENTION_DAYS). Default 2555 (7 years).
	RetentionDays int `json:"retention_days"`
}

// DevAudit returns the audit settings of a `rack-gateway dev` data
// directory: keys made on first use, anchors in a plain directory.
func DevAudit(dir string) Audit {
	return Audit{
		Origin:         "rack-gateway-dev",
		SigningKeyFile: filepath.Join(dir, "audit-signing.key"),
		HMACKeyFile:    filepath.Join(dir, "audit-hmac.key"),
		AnchorDir:      filepath.Join(dir, "anchors"),
		// Checkpoints show up quickly in a demo.
		CheckpointInterval: Duration(10 * time.Second),
		CreateKeys:         true,
	}
}

// NewMFAKey returns a fresh keyring entry for mfa.encryption_keys: an id
// from the date and 32 random bytes in base64 (what `rack-gateway
// mfa-keygen` prints).
func NewMFAKey(now time.Time) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "k" + now.UTC().Format("20060102") + ":" + base64.StdEncoding.EncodeToString(b)
}

// Rack is one rack behind the gateway.
type Rack struct {
	// Name identifies the rack in URLs (/racks/<name>), decisions and audit
	// events: lower-case letters, digits and dashes.
	Name string `json:"name"`
	// URL is the rack API base URL, e.g. https://api.rack.example.com.
	// Plain http is allowed only for loopback addresses.
	URL string `json:"url"`
	// Password is the rack password (RGW_RACK_PASSWORD for a single rack).
	// Prefer PasswordFile.
	Password string `json:"password"`
	// PasswordFile holds the rack password (RGW_RACK_PASSWORD_FILE).
	PasswordFile string `json:"password_file"`
	// CAFile pins the CA bundle used to verify the rack's certificate
	// instead of the system roots (RGW_RACK_CA_FILE).
	CAFile string `json:"ca_file"`
	// PinSHA256 pins the rack's leaf certificate by the hex SHA-256 of its
	// DER bytes (RGW_RACK_PIN_SHA256); verification against roots is then
	// replaced by the pin. It breaks whenever the rack makes a new
	// certificate (some rack APIs do at every start): prefer
	// PinPublicKeySHA256 or CAFile then.
	PinSHA256 string `json:"pin_sha256"`
	// PinPublicKeySHA256 pins the rack's key: the hex SHA-256 of the leaf
	// certificate's SubjectPublicKeyInfo (RGW_RACK_PIN_PUBKEY_SHA256), as
	// in HPKP. It survives a new certificate for the same key.
	PinPublicKeySHA256 string `json:"pin_pubkey_sha256"`
}

// Limits protect the gateway from floods.
type Limits struct {
	// FailuresPerMinute is each client address's budget of failing
	// requests made without a good credential (bad or unknown tokens,
	// unknown routes, non-canonical paths), refilled over a minute, with
	// FailureBurst at once; past it the address gets 429 with Retry-After,
	// and those refusals are audited as one counted event per address per
	// minute (RGW_LIMIT_FAILURES_PER_MINUTE, default 60, -1 disables;
	// RGW_LIMIT_FAILURE_BURST, default 30). Callers with a good credential
	// spend nothing.
	FailuresPerMinute int `json:"failures_per_minute"`
	FailureBurst      int `json:"failure_burst"`
	// MaxConns caps open connections in all, MaxConnsPerIP from one peer
	// address (the trusted proxies are exempt from the latter)
	// (RGW_LIMIT_MAX_CONNS, default 10000; RGW_LIMIT_MAX_CONNS_PER_IP,
	// default 1024: an office behind one NAT address runs many log
	// streams at once).
	MaxConns      int `json:"max_conns"`
	MaxConnsPerIP int `json:"max_conns_per_ip"`
}

// Duration is a time.Duration that reads "30s"-style strings from JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
