// Package config holds the gateway's configuration: plain structs documented
// where declared, loaded from a JSON file and RGW_* environment variables,
// and validated separately (validate.go) with errors that name the setting.
package config

import "time"

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
	// replaced by the pin, which suits a rack's self-signed certificate.
	PinSHA256 string `json:"pin_sha256"`
}

// Duration is a time.Duration that reads "30s"-style strings from JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
