package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// UnmarshalJSON accepts "30s" strings or integer nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\"")
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Load reads the optional JSON file, then applies RGW_* variables from
// getenv over it, then defaults, then reads the secret files it names
// (ReadSecretFiles). It does not validate; call Validate.
func Load(file string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	if err := applyEnv(c, getenv); err != nil {
		return nil, err
	}
	c.SetDefaults(":8447")
	if err := c.ReadSecretFiles(); err != nil {
		return nil, err
	}
	return c, nil
}

func applyEnv(c *Config, getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	list := func(name string, dst *[]string) {
		if v := getenv(name); v != "" {
			*dst = splitList(v)
		}
	}
	var err error
	dur := func(name string, dst *Duration) {
		if v := getenv(name); v != "" && err == nil {
			d, e := time.ParseDuration(v)
			if e != nil {
				err = fmt.Errorf("%s: %q is not a duration like 30s", name, v)
				return
			}
			*dst = Duration(d)
		}
	}
	str("RGW_ADDR", &c.Addr)
	str("RGW_METRICS_ADDR", &c.MetricsAddr)
	str("RGW_METRICS_TOKEN_FILE", &c.MetricsTokenFile)
	str("RGW_DATABASE_URL", &c.DatabaseURL)
	str("RGW_TLS_CERT", &c.TLSCertFile)
	str("RGW_TLS_KEY", &c.TLSKeyFile)
	str("RGW_DEFAULT_RACK", &c.DefaultRack)
	str("RGW_LOG_LEVEL", &c.LogLevel)
	list("RGW_SECRET_ENV_PATTERNS", &c.SecretEnvPatterns)
	list("RGW_PROTECTED_ENV_KEYS", &c.ProtectedEnvKeys)
	list("RGW_TRUSTED_PROXIES", &c.TrustedProxies)
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" && err == nil {
			n, e := strconv.Atoi(v)
			if e != nil {
				err = fmt.Errorf("%s: %q is not a number", name, v)
				return
			}
			*dst = n
		}
	}
	num("RGW_MAX_HEADER_BYTES", &c.MaxHeaderBytes)
	num("RGW_LIMIT_FAILURES_PER_MINUTE", &c.Limits.FailuresPerMinute)
	num("RGW_LIMIT_FAILURE_BURST", &c.Limits.FailureBurst)
	num("RGW_LIMIT_MAX_CONNS", &c.Limits.MaxConns)
	num("RGW_LIMIT_MAX_CONNS_PER_IP", &c.Limits.MaxConnsPerIP)
	dur("RGW_REQUEST_TIMEOUT", &c.RequestTimeout)
	dur("RGW_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("RGW_STREAM_RECHECK_INTERVAL", &c.StreamRecheckInterval)
	dur("RGW_TOKEN_CACHE_TTL", &c.TokenCacheTTL)
	str("RGW_PUBLIC_URL", &c.PublicURL)
	o := &c.OIDC
	str("RGW_OIDC_ISSUER", &o.Issuer)
	str("RGW_OIDC_CLIENT_ID", &o.ClientID)
	str("RGW_OIDC_PROVIDER_NAME", &o.ProviderName)
	str("RGW_OIDC_CLIENT_SECRET", &o.ClientSecret)
	str("RGW_OIDC_CLIENT_SECRET_FILE", &o.ClientSecretFile)
	list("RGW_OIDC_SCOPES", &o.Scopes)
	list("RGW_OIDC_ALLOWED_DOMAINS", &o.AllowedDomains)
	str("RGW_OIDC_GROUPS_CLAIM", &o.GroupsClaim)
	list("RGW_OIDC_AUTO_PROVISION_EMAILS", &o.AutoProvisionEmails)
	list("RGW_OIDC_AUTO_PROVISION_DOMAINS", &o.AutoProvisionDomains)
	str("RGW_OIDC_DEFAULT_ROLE", &o.DefaultRole)
	dur("RGW_SESSION_WEB_IDLE", &c.Sessions.WebIdle)
	dur("RGW_SESSION_WEB_ABSOLUTE", &c.Sessions.WebAbsolute)
	dur("RGW_SESSION_CLI_ABSOLUTE", &c.Sessions.CLIAbsolute)
	dur("RGW_SESSION_CLI_IDLE", &c.Sessions.CLIIdle)
	str("RGW_APPROVALS_GITHUB_TOKEN", &c.Approvals.GitHubToken)
	str("RGW_APPROVALS_GITHUB_TOKEN_FILE", &c.Approvals.GitHubTokenFile)
	m := &c.MFA
	dur("RGW_MFA_STEP_UP_WINDOW", &m.StepUpWindow)
	str("RGW_MFA_ENCRYPTION_KEYS", &m.EncryptionKeys)
	str("RGW_MFA_ENCRYPTION_KEYS_FILE", &m.EncryptionKeysFile)
	num("RGW_MFA_LOCK_AFTER", &m.LockAfter)
	num("RGW_MFA_TRUSTED_DEVICE_DAYS", &m.TrustedDeviceDays)
	str("RGW_MFA_WEBAUTHN_RP_ID", &m.WebAuthnRPID)
	list("RGW_MFA_WEBAUTHN_ORIGINS", &m.WebAuthnOrigins)
	str("RGW_MFA_YUBICO_CLIENT_ID", &m.YubicoClientID)
	str("RGW_MFA_YUBICO_API_KEY", &m.YubicoAPIKey)
	str("RGW_MFA_YUBICO_API_KEY_FILE", &m.YubicoAPIKeyFile)
	list("RGW_MFA_YUBICO_SERVERS", &m.YubicoServers)
	if v := getenv("RGW_MFA_REQUIRED"); v != "" && err == nil {
		b, e := strconv.ParseBool(v)
		if e != nil {
			err = fmt.Errorf("RGW_MFA_REQUIRED: %q is not a boolean (1 or 0)", v)
		}
		m.Required = &b
	}
	a := &c.Audit
	str("RGW_AUDIT_ORIGIN", &a.Origin)
	str("RGW_AUDIT_SIGNING_KEY_FILE", &a.SigningKeyFile)
	str("RGW_AUDIT_SIGNING_KEY", &a.SigningKey)
	str("RGW_AUDIT_PUBLIC_KEY_FILE", &a.PublicKeyFile)
	str("RGW_AUDIT_HMAC_KEY_FILE", &a.HMACKeyFile)
	str("RGW_AUDIT_HMAC_KEY", &a.HMACKey)
	str("RGW_AUDIT_ANCHOR_DIR", &a.AnchorDir)
	str("RGW_AUDIT_S3_BUCKET", &a.S3.Bucket)
	str("RGW_AUDIT_S3_PREFIX", &a.S3.Prefix)
	str("RGW_AUDIT_S3_REGION", &a.S3.Region)
	str("RGW_AUDIT_S3_ENDPOINT", &a.S3.Endpoint)
	str("RGW_AUDIT_S3_ACCESS_KEY_ID", &a.S3.AccessKeyID)
	str("RGW_AUDIT_S3_SECRET_ACCESS_KEY", &a.S3.SecretAccessKey)
	str("RGW_AUDIT_WEBHOOK_URL", &a.WebhookURL)
	str("RGW_AUDIT_WEBHOOK_AUTHORIZATION", &a.WebhookAuthorization)
	str("RGW_AUDIT_WEBHOOK_CA_FILE", &a.WebhookCAFile)
	dur("RGW_AUDIT_CHECKPOINT_INTERVAL", &a.CheckpointInterval)
	if v := getenv("RGW_AUDIT_VERIFY_INTERVAL"); v != "" {
		var d Duration
		dur("RGW_AUDIT_VERIFY_INTERVAL", &d)
		a.VerifyInterval = &d
	}
	for name, dst := range map[string]*bool{"RGW_AUDIT_STDOUT": &a.Stdout, "RGW_AUDIT_S3_PATH_STYLE": &a.S3.PathStyle} {
		if v := getenv(name); v != "" && err == nil {
			b, e := strconv.ParseBool(v)
			if e != nil {
				err = fmt.Errorf("%s: %q is not a boolean (1 or 0)", name, v)
			}
			*dst = b
		}
	}
	num("RGW_AUDIT_QUEUE_SIZE", &a.QueueSize)
	for name, dst := range map[string]*int64{"RGW_AUDIT_CHECKPOINT_EVERY": &a.CheckpointEvery} {
		if v := getenv(name); v != "" && err == nil {
			n, e := strconv.ParseInt(v, 10, 64)
			if e != nil {
				err = fmt.Errorf("%s: %q is not a number", name, v)
			}
			*dst = n
		}
	}
	if v := getenv("RGW_AUDIT_S3_RETENTION_DAYS"); v != "" && err == nil {
		n, e := strconv.Atoi(v)
		if e != nil {
			err = fmt.Errorf("RGW_AUDIT_S3_RETENTION_DAYS: %q is not a number", v)
		}
		a.S3.RetentionDays = n
	}
	if err != nil {
		return err
	}
	// A single rack can be configured entirely from the environment.
	if u := getenv("RGW_RACK_URL"); u != "" {
		r := Rack{Name: "default", URL: u}
		str("RGW_RACK_NAME", &r.Name)
		str("RGW_RACK_PASSWORD", &r.Password)
		str("RGW_RACK_PASSWORD_FILE", &r.PasswordFile)
		str("RGW_RACK_CA_FILE", &r.CAFile)
		str("RGW_RACK_PIN_SHA256", &r.PinSHA256)
		str("RGW_RACK_PIN_PUBKEY_SHA256", &r.PinPublicKeySHA256)
		replaced := false
		for i := range c.Racks {
			if c.Racks[i].Name == r.Name {
				c.Racks[i], replaced = r, true
			}
		}
		if !replaced {
			c.Racks = append(c.Racks, r)
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults(addr string) {
	if c.Addr == "" {
		c.Addr = addr
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:rack-gateway.db"
	}
	if c.DefaultRack == "" && len(c.Racks) > 0 {
		c.DefaultRack = c.Racks[0].Name
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = Duration(30 * time.Second)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = Duration(120 * time.Second)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = Duration(5 * time.Minute)
	}
	if c.Limits.FailuresPerMinute == 0 {
		c.Limits.FailuresPerMinute = 60
	}
	if c.Limits.FailureBurst == 0 {
		c.Limits.FailureBurst = 30
	}
	if c.Limits.MaxConns == 0 {
		c.Limits.MaxConns = 10000
	}
	if c.Limits.MaxConnsPerIP == 0 {
		c.Limits.MaxConnsPerIP = 1024
	}
	if c.StreamRecheckInterval == 0 {
		c.StreamRecheckInterval = Duration(5 * time.Second)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(30 * time.Second)
	}
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = Duration(5 * time.Second)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.OIDC.Issuer != "" && len(c.OIDC.Scopes) == 0 {
		c.OIDC.Scopes = []string{"openid", "email", "profile"}
	}
	if c.OIDC.DefaultRole == "" {
		c.OIDC.DefaultRole = "viewer"
	}
	if c.Sessions.WebIdle == 0 {
		c.Sessions.WebIdle = Duration(30 * time.Minute)
	}
	if c.Sessions.WebAbsolute == 0 {
		c.Sessions.WebAbsolute = Duration(12 * time.Hour)
	}
	if c.Sessions.CLIAbsolute == 0 {
		c.Sessions.CLIAbsolute = Duration(30 * 24 * time.Hour)
	}
	if c.MFA.StepUpWindow == 0 {
		c.MFA.StepUpWindow = Duration(10 * time.Minute)
	}
	if c.MFA.LockAfter == 0 {
		c.MFA.LockAfter = 10
	}
	c.Notify.SetDefaults()
	if c.Approvals.SweepInterval == 0 {
		c.Approvals.SweepInterval = Duration(time.Minute)
	}
	for i := range c.Approvals.Rules {
		r := &c.Approvals.Rules[i]
		if r.Approvals == 0 {
			r.Approvals = 1
		}
		if r.RequestTTL == 0 {
			r.RequestTTL = Duration(24 * time.Hour)
		}
		if r.Window == 0 {
			r.Window = Duration(15 * time.Minute)
		}
	}
	if c.MFA.TrustedDeviceDays == 0 {
		c.MFA.TrustedDeviceDays = 30
	}
	if c.MFA.WebAuthnRPID == "" && c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			c.MFA.WebAuthnRPID = u.Hostname()
			if len(c.MFA.WebAuthnOrigins) == 0 {
				c.MFA.WebAuthnOrigins = []string{u.Scheme + "://" + u.Host}
			}
		}
	}
	a := &c.Audit
	if a.Origin == "" {
		a.Origin, _ = os.Hostname()
	}
	if a.QueueSize == 0 {
		a.QueueSize = 16384
	}
	if a.CheckpointEvery == 0 {
		a.CheckpointEvery = 1000
	}
	if a.CheckpointInterval == 0 {
		a.CheckpointInterval = Duration(60 * time.Second)
	}
	if a.VerifyInterval == nil {
		d := Duration(time.Hour)
		a.VerifyInterval = &d
	}
	if a.S3.Bucket != "" && a.S3.Region == "" {
		a.S3.Region = "us-east-1"
	}
	if a.S3.Bucket != "" && a.S3.RetentionDays == 0 {
		a.S3.RetentionDays = 2555
	}
}
