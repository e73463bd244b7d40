package config

import (
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"

	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

var rackName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate checks the configuration without changing it or reading any
// file but for checking that a CA file exists; Load reads the secret files
// first (ReadSecretFiles). Every error names the setting at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(setting, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", setting, fmt.Sprintf(format, a...)))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr (RGW_ADDR)", "%q is not host:port", c.Addr)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("metrics_addr (RGW_METRICS_ADDR)", "%q is not host:port", c.MetricsAddr)
		}
	}
	if c.MetricsTokenFile != "" && len(c.MetricsToken) < 16 {
		bad("metrics_token_file (RGW_METRICS_TOKEN_FILE)", "the token must be at least 16 characters (was the file read?)")
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("database_url (RGW_DATABASE_URL)", "must start with sqlite: or postgres://")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file/tls_key_file (RGW_TLS_CERT/RGW_TLS_KEY)", "set both or neither")
	}
	if len(c.Racks) == 0 {
		bad("racks (RGW_RACK_URL)", "at least one rack is required")
	}
	seen := map[string]bool{}
	for i := range c.Racks {
		r := &c.Racks[i]
		at := fmt.Sprintf("racks[%d]", i)
		if !rackName.MatchString(r.Name) {
			bad(at+".name (RGW_RACK_NAME)", "%q must be lower-case letters, digits and dashes", r.Name)
		}
		if seen[r.Name] {
			bad(at+".name", "duplicate rack name %q", r.Name)
		}
		seen[r.Name] = true
		if err := checkRackURL(r.URL); err != nil {
			bad(at+".url (RGW_RACK_URL)", "%v", err)
		}
		if r.Password == "" && r.PasswordFile != "" {
			bad(at+".password_file (RGW_RACK_PASSWORD_FILE)", "%s was not read (ReadSecretFiles) or holds only white space", r.PasswordFile)
		} else if r.Password == "" {
			bad(at+".password (RGW_RACK_PASSWORD)", "the rack password is required")
		}
		if r.CAFile != "" {
			if _, err := os.Stat(r.CAFile); err != nil {
				bad(at+".ca_file (RGW_RACK_CA_FILE)", "%v", err)
			}
		}
		if r.PinSHA256 != "" {
			if b, err := hex.DecodeString(strings.ReplaceAll(r.PinSHA256, ":", "")); err != nil || len(b) != 32 {
				bad(at+".pin_sha256 (RGW_RACK_PIN_SHA256)", "must be 64 hex digits")
			}
		}
		if r.PinPublicKeySHA256 != "" {
			if b, err := hex.DecodeString(strings.ReplaceAll(r.PinPublicKeySHA256, ":", "")); err != nil || len(b) != 32 {
				bad(at+".pin_pubkey_sha256 (RGW_RACK_PIN_PUBKEY_SHA256)", "must be 64 hex digits")
			}
			if r.PinSHA256 != "" {
				bad(at+".pin_pubkey_sha256 (RGW_RACK_PIN_PUBKEY_SHA256)", "set one pin: pin_sha256 or pin_pubkey_sha256")
			}
		}
	}
	if c.DefaultRack != "" && !seen[c.DefaultRack] {
		bad("default_rack (RGW_DEFAULT_RACK)", "no rack named %q", c.DefaultRack)
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trusted_proxies (RGW_TRUSTED_PROXIES)", "%q is not a CIDR", p)
		}
	}
	if l := c.Limits; l.FailuresPerMinute < -1 || l.FailureBurst < 1 || l.MaxConns < 1 || l.MaxConnsPerIP < 1 {
		bad("limits (RGW_LIMIT_*)", "failures_per_minute must be -1 (off) or positive; failure_burst, max_conns and max_conns_per_ip positive")
	}
	if c.StreamRecheckInterval.D() < time.Second || c.StreamRecheckInterval.D() > time.Hour {
		bad("stream_recheck_interval (RGW_STREAM_RECHECK_INTERVAL)", "must be between 1s and 1h")
	}
	if c.MaxHeaderBytes < 4096 || c.MaxHeaderBytes > 1<<20 {
		bad("max_header_bytes (RGW_MAX_HEADER_BYTES)", "must be between 4096 and 1048576")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level (RGW_LOG_LEVEL)", "%q must be debug, info, warn or error", c.LogLevel)
	}
	if c.TokenCacheTTL < 0 || c.TokenCacheTTL.D() > 60e9 {
		bad("token_cache_ttl (RGW_TOKEN_CACHE_TTL)", "must be between 0s and 60s")
	}
	if o := &c.OIDC; o.Issuer != "" {
		if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
			bad("oidc.issuer (RGW_OIDC_ISSUER)", "must be an https:// URL (http:// only for loopback)")
		}
		if o.ClientID == "" {
			bad("oidc.client_id (RGW_OIDC_CLIENT_ID)", "required with oidc.issuer")
		}
		if o.ClientSecret == "" && o.ClientSecretFile != "" {
			bad("oidc.client_secret_file (RGW_OIDC_CLIENT_SECRET_FILE)", "%s was not read (ReadSecretFiles) or holds only white space", o.ClientSecretFile)
		} else if o.ClientSecret == "" {
			bad("oidc.client_secret (RGW_OIDC_CLIENT_SECRET)", "required with oidc.issuer")
		}
		if c.PublicURL == "" {
			bad("public_url (RGW_PUBLIC_URL)", "required with oidc.issuer, for the login callback")
		}
		for g, r := range o.GroupRoles {
			if !knownRole(r) {
				bad("oidc.group_roles", "group %q maps to unknown role %q", g, r)
			}
		}
		if !knownRole(o.DefaultRole) {
			bad("oidc.default_role (RGW_OIDC_DEFAULT_ROLE)", "unknown role %q", o.DefaultRole)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || u.Path != "" && u.Path != "/" ||
			(u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
			bad("public_url (RGW_PUBLIC_URL)", "must be an https:// origin like https://gateway.example.com (http:// only for loopback)")
		}
	}
	if c.Sessions.WebIdle < 0 || c.Sessions.CLIIdle < 0 || c.Sessions.WebAbsolute.D() < time.Minute || c.Sessions.CLIAbsolute.D() < time.Minute {
		bad("sessions (RGW_SESSION_*)", "lifetimes must be at least 1m and idle timeouts not negative")
	}
	a := &c.Audit
	if a.SigningKeyFile == "" && a.SigningKey == "" {
		bad("audit.signing_key_file (RGW_AUDIT_SIGNING_KEY_FILE)", "a checkpoint signing key is required; make one with `rack-gateway audit keygen`")
	}
	if a.HMACKeyFile == "" && a.HMACKey == "" {
		bad("audit.hmac_key_file (RGW_AUDIT_HMAC_KEY_FILE)", "a key for hashing audited secret values is required; `rack-gateway audit keygen` makes one")
	}
	if (a.AnchorDir == "") == (a.S3.Bucket == "") {
		bad("audit.s3.bucket (RGW_AUDIT_S3_BUCKET)", "set an Object Lock bucket for checkpoint anchors (or, not WORM, audit.anchor_dir / RGW_AUDIT_ANCHOR_DIR), not both")
	}
	if a.S3.Bucket != "" && (a.S3.RetentionDays < 1 || a.S3.RetentionDays > 36500) {
		bad("audit.s3.retention_days (RGW_AUDIT_S3_RETENTION_DAYS)", "must be between 1 and 36500")
	}
	if a.QueueSize < 16 || a.QueueSize > 10_000_000 {
		bad("audit.queue_size (RGW_AUDIT_QUEUE_SIZE)", "must be between 16 and 10000000")
	}
	m := &c.MFA
	if m.IsRequired() && m.EncryptionKeys == "" {
		bad("mfa.encryption_keys (RGW_MFA_ENCRYPTION_KEYS)", "required while MFA is required (the default): "+
			"generate a key with `rack-gateway mfa-keygen`, or set RGW_MFA_REQUIRED=0 to run without MFA")
	}
	if m.StepUpWindow.D() < time.Minute || m.StepUpWindow.D() > 24*time.Hour {
		bad("mfa.step_up_window (RGW_MFA_STEP_UP_WINDOW)", "must be between 1m and 24h")
	}
	if m.LockAfter < 3 || m.LockAfter > 1000 {
		bad("mfa.lock_after (RGW_MFA_LOCK_AFTER)", "must be between 3 and 1000")
	}
	if m.TrustedDeviceDays < -1 || m.TrustedDeviceDays > 365 {
		bad("mfa.trusted_device_days (RGW_MFA_TRUSTED_DEVICE_DAYS)", "must be between 1 and 365, or -1 to disable")
	}
	if (m.YubicoClientID == "") != (m.YubicoAPIKey == "") {
		bad("mfa.yubico_client_id/yubico_api_key (RGW_MFA_YUBICO_CLIENT_ID/RGW_MFA_YUBICO_API_KEY)", "set both or neither")
	}
	for _, s := range m.YubicoServers {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
			bad("mfa.yubico_servers (RGW_MFA_YUBICO_SERVERS)", "%q must be an https URL (http only on loopback)", s)
		}
	}
	c.validateApprovals(bad)
	if err := c.Notify.Validate(); err != nil {
		errs = append(errs, err)
	}
	if a.CheckpointEvery < 1 {
		bad("audit.checkpoint_every (RGW_AUDIT_CHECKPOINT_EVERY)", "must be at least 1")
	}
	if a.CheckpointInterval.D() < time.Second {
		bad("audit.checkpoint_interval (RGW_AUDIT_CHECKPOINT_INTERVAL)", "must be at least 1s")
	}
	if a.VerifyInterval != nil && a.VerifyInterval.D() < 0 {
		bad("audit.verify_interval (RGW_AUDIT_VERIFY_INTERVAL)", "must not be negative")
	}
	if a.WebhookURL != "" {
		u, err := url.Parse(a.WebhookURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
			bad("audit.webhook_url (RGW_AUDIT_WEBHOOK_URL)", "must be an https:// URL (http:// only for loopback)")
		}
	}
	return errors.Join(errs...)
}

// ReadSecretFiles reads the rack password files and the OIDC client secret
// file into the settings they stand for (trimmed of surrounding white
// space); Load calls it. Every error names the setting at fault.
func (c *Config) ReadSecretFiles() error {
	var errs []error
	read := func(setting, file string, dst *string) {
		if file == "" {
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", setting, err))
			return
		}
		*dst = strings.TrimSpace(string(b))
	}
	for i := range c.Racks {
		r := &c.Racks[i]
		read(fmt.Sprintf("racks[%d].password_file (RGW_RACK_PASSWORD_FILE)", i), r.PasswordFile, &r.Password)
	}
	read("oidc.client_secret_file (RGW_OIDC_CLIENT_SECRET_FILE)", c.OIDC.ClientSecretFile, &c.OIDC.ClientSecret)
	read("metrics_token_file (RGW_METRICS_TOKEN_FILE)", c.MetricsTokenFile, &c.MetricsToken)
	read("mfa.encryption_keys_file (RGW_MFA_ENCRYPTION_KEYS_FILE)", c.MFA.EncryptionKeysFile, &c.MFA.EncryptionKeys)
	read("mfa.yubico_api_key_file (RGW_MFA_YUBICO_API_KEY_FILE)", c.MFA.YubicoAPIKeyFile, &c.MFA.YubicoAPIKey)
	read("approvals.github_token_file (RGW_APPROVALS_GITHUB_TOKEN_FILE)", c.Approvals.GitHubTokenFile, &c.Approvals.GitHubToken)
	errs = append(errs, c.Notify.ReadSecretFiles())
	return errors.Join(errs...)
}

func checkRackURL(raw string) error {
	if raw == "" {
		return errors.New("the rack URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.User != nil {
		return errors.New("put the rack password in password/password_file, not in the URL")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return errors.New("the rack URL must not have a path or query")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return errors.New("plain http is allowed only for loopback racks; use https")
		}
	default:
		return fmt.Errorf("scheme %q must be https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("the rack URL has no host")
	}
	return nil
}

// IsLoopbackHost reports whether host is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func knownRole(r string) bool { return authz.ValidRole(r) == nil }

// validateApprovals checks the deploy approval rules.
func (c *Config) validateApprovals(bad func(setting, format string, a ...any)) {
	if c.Approvals.SweepInterval.D() < time.Second {
		bad("approvals.sweep_interval", "must be at least 1s")
	}
	for i, r := range c.Approvals.Rules {
		at := fmt.Sprintf("approvals.rules[%d]", i)
		for _, p := range []struct{ name, v string }{{"rack", r.Rack}, {"app", r.App}} {
			if _, err := path.Match(p.v, ""); err != nil {
				bad(at+"."+p.name, "%q is not a valid pattern", p.v)
			}
		}
		if r.Approvals < 1 || r.Approvals > 10 {
			bad(at+".approvals", "must be between 1 and 10")
		}
		for _, role := range r.ApproverRoles {
			if _, ok := authz.RolePermissions(role); !ok {
				bad(at+".approver_roles", "unknown role %q", role)
			}
		}
		for _, u := range r.ApproverUsers {
			if !strings.Contains(u, "@") || strings.ContainsAny(u, " \t\n") {
				bad(at+".approver_users", "%q is not an email address", u)
			}
		}
		if r.Approvals > 1 && len(r.ApproverRoles) == 0 && len(r.ApproverUsers) > 0 && len(r.ApproverUsers) < r.Approvals {
			bad(at+".approver_users", "names %d people, fewer than the %d approvals needed", len(r.ApproverUsers), r.Approvals)
		}
		if d := r.RequestTTL.D(); d < time.Minute || d > 30*24*time.Hour {
			bad(at+".request_ttl", "must be between 1m and 720h")
		}
		if d := r.Window.D(); d < time.Minute || d > 24*time.Hour {
			bad(at+".window", "must be between 1m and 24h")
		}
		for _, cmd := range r.RunCommands {
			if strings.TrimSpace(cmd) == "" || cmd != strings.TrimSpace(cmd) {
				bad(at+".run_commands", "%q must be a command without surrounding space", cmd)
			}
		}
		if r.Images != "" {
			if _, err := deploycheck.NewImageRule(r.Images, r.RequireImages); err != nil {
				bad(at+".images", "%v", err)
			}
		} else if r.RequireImages {
			bad(at+".require_images", "needs images (the pattern)")
		}
		if r.GitHubRepo != "" {
			if err := deploycheck.ValidRepo(r.GitHubRepo); err != nil {
				bad(at+".github_repo", "%v", err)
			}
			for _, b := range r.Branches {
				if err := deploycheck.ValidBranch(b); err != nil {
					bad(at+".branches", "%v", err)
				}
			}
			if len(r.Branches) == 0 && !r.OpenPR {
				bad(at+".github_repo", "needs branches or open_pr: where an approvable commit must come from")
			}
			if c.Approvals.GitHubToken == "" {
				bad("approvals.github_token (RGW_APPROVALS_GITHUB_TOKEN)", "required by %s.github_repo", at)
			}
		} else if len(r.Branches) > 0 || r.OpenPR {
			bad(at+".branches", "branches and open_pr need github_repo")
		}
	}
	if u := c.Approvals.GitHubAPIURL; u != "" {
		if p, err := url.Parse(u); err != nil || p.Host == "" || (p.Scheme != "https" && !(p.Scheme == "http" && IsLoopbackHost(p.Hostname()))) {
			bad("approvals.github_api_url", "must be an https:// URL (http:// only for loopback)")
		}
	}
}
