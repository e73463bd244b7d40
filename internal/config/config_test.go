package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// envMap returns a getenv over a fixed map, so tests never see the real
// environment.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const fileJSON = `{
  "addr": "127.0.0.1:9000",
  "database_url": "sqlite:/tmp/gw.db",
  "racks": [
    {"name": "prod", "url": "https://api.prod.example.com", "password": "prod-pw"},
    {"name": "staging", "url": "https://api.staging.example.com", "password": "staging-pw"}
  ],
  "default_rack": "staging",
  "secret_env_patterns": ["SALT"],
  "protected_env_keys": ["RAILS_MASTER_KEY"],
  "trusted_proxies": ["10.0.0.0/8"],
  "max_header_bytes": 8192,
  "read_header_timeout": "10s",
  "idle_timeout": "1m30s",
  "request_timeout": "2m",
  "shutdown_timeout": "45s",
  "token_cache_ttl": "2s",
  "log_level": "debug",
  "audit": {"signing_key_file": "/etc/rgw/audit.key", "hmac_key_file": "/etc/rgw/hmac.key", "s3": {"bucket": "rgw-anchors", "retention_days": 400}, "checkpoint_every": 500},
  "mfa": {"encryption_keys": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "step_up_window": "5m"}
}`

func TestLoadFile(t *testing.T) {
	p := writeFile(t, "gw.json", fileJSON)
	c, err := config.Load(p, envMap(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Addr != "127.0.0.1:9000" || c.DatabaseURL != "sqlite:/tmp/gw.db" || c.DefaultRack != "staging" {
		t.Errorf("scalars: %+v", c)
	}
	wantRacks := []config.Rack{
		{Name: "prod", URL: "https://api.prod.example.com", Password: "prod-pw"},
		{Name: "staging", URL: "https://api.staging.example.com", Password: "staging-pw"},
	}
	if !reflect.DeepEqual(c.Racks, wantRacks) {
		t.Errorf("Racks = %+v, want %+v", c.Racks, wantRacks)
	}
	if !reflect.DeepEqual(c.SecretEnvPatterns, []string{"SALT"}) ||
		!reflect.DeepEqual(c.ProtectedEnvKeys, []string{"RAILS_MASTER_KEY"}) ||
		!reflect.DeepEqual(c.TrustedProxies, []string{"10.0.0.0/8"}) {
		t.Errorf("lists: %+v", c)
	}
	durs := []struct {
		name string
		got  config.Duration
		want time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout, 10 * time.Second},
		{"idle_timeout", c.IdleTimeout, 90 * time.Second},
		{"request_timeout", c.RequestTimeout, 2 * time.Minute},
		{"shutdown_timeout", c.ShutdownTimeout, 45 * time.Second},
		{"token_cache_ttl", c.TokenCacheTTL, 2 * time.Second},
	}
	for _, d := range durs {
		if d.got.D() != d.want {
			t.Errorf("%s = %v, want %v", d.name, d.got.D(), d.want)
		}
	}
	if c.MaxHeaderBytes != 8192 || c.LogLevel != "debug" {
		t.Errorf("MaxHeaderBytes=%d LogLevel=%q", c.MaxHeaderBytes, c.LogLevel)
	}
	if a := c.Audit; a.SigningKeyFile != "/etc/rgw/audit.key" || a.S3.Bucket != "rgw-anchors" || a.S3.RetentionDays != 400 ||
		a.CheckpointEvery != 500 || a.CheckpointInterval.D() != time.Minute || a.S3.Region != "us-east-1" {
		t.Errorf("audit: %+v", a)
	}
	if m := c.MFA; m.EncryptionKeys == "" || m.StepUpWindow.D() != 5*time.Minute || !m.IsRequired() ||
		m.LockAfter != 10 || m.TrustedDeviceDays != 30 {
		t.Errorf("mfa: %+v", m)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of a valid file: %v", err)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name     string
		got, exp any
	}{
		{"addr", c.Addr, ":8447"},
		{"database_url", c.DatabaseURL, "sqlite:rack-gateway.db"},
		{"max_header_bytes", c.MaxHeaderBytes, 64 << 10},
		{"read_header_timeout", c.ReadHeaderTimeout.D(), 30 * time.Second},
		{"idle_timeout", c.IdleTimeout.D(), 120 * time.Second},
		{"request_timeout", c.RequestTimeout.D(), 5 * time.Minute},
		{"shutdown_timeout", c.ShutdownTimeout.D(), 30 * time.Second},
		{"token_cache_ttl", c.TokenCacheTTL.D(), 5 * time.Second},
		{"log_level", c.LogLevel, "info"},
		{"default_rack", c.DefaultRack, ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.exp) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.exp)
		}
	}
	if len(c.Racks) != 0 {
		t.Errorf("racks = %+v, want none", c.Racks)
	}
	// Without a rack the config is not valid, and the error says which
	// setting to give.
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "racks (RGW_RACK_URL)") {
		t.Errorf("Validate without racks: %v", err)
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	p := writeFile(t, "gw.json", fileJSON)
	c, err := config.Load(p, envMap(map[string]string{
		"RGW_ADDR":                "0.0.0.0:8000",
		"RGW_DATABASE_URL":        "postgres://gw@db/gw",
		"RGW_DEFAULT_RACK":        "prod",
		"RGW_LOG_LEVEL":           "warn",
		"RGW_SECRET_ENV_PATTERNS": " PEPPER , ,SALT2 ",
		"RGW_PROTECTED_ENV_KEYS":  "A,B",
		"RGW_TRUSTED_PROXIES":     "192.168.0.0/16, 10.1.0.0/16",
		"RGW_MAX_HEADER_BYTES":    "16384",
		"RGW_REQUEST_TIMEOUT":     "30s",
		"RGW_SHUTDOWN_TIMEOUT":    "1s",
		"RGW_TOKEN_CACHE_TTL":     "0s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:8000" || c.DatabaseURL != "postgres://gw@db/gw" || c.DefaultRack != "prod" || c.LogLevel != "warn" {
		t.Errorf("scalars not overridden: %+v", c)
	}
	if !reflect.DeepEqual(c.SecretEnvPatterns, []string{"PEPPER", "SALT2"}) {
		t.Errorf("SecretEnvPatterns = %q", c.SecretEnvPatterns)
	}
	if !reflect.DeepEqual(c.ProtectedEnvKeys, []string{"A", "B"}) {
		t.Errorf("ProtectedEnvKeys = %q", c.ProtectedEnvKeys)
	}
	if !reflect.DeepEqual(c.TrustedProxies, []string{"192.168.0.0/16", "10.1.0.0/16"}) {
		t.Errorf("TrustedProxies = %q", c.TrustedProxies)
	}
	if c.MaxHeaderBytes != 16384 || c.RequestTimeout.D() != 30*time.Second || c.ShutdownTimeout.D() != time.Second {
		t.Errorf("numbers: %d %v %v", c.MaxHeaderBytes, c.RequestTimeout.D(), c.ShutdownTimeout.D())
	}
	// "0s" is the zero value, so the default applies.
	if c.TokenCacheTTL.D() != 5*time.Second {
		t.Errorf("TokenCacheTTL = %v", c.TokenCacheTTL.D())
	}
	// The file's racks are untouched without RGW_RACK_URL.
	if len(c.Racks) != 2 || c.Racks[0].Name != "prod" || c.Racks[1].Name != "staging" {
		t.Errorf("Racks = %+v", c.Racks)
	}
}

func TestLoadEnvRack(t *testing.T) {
	pwFile := writeFile(t, "pw", "from-file\n")
	cases := []struct {
		name  string
		file  string
		env   map[string]string
		racks []config.Rack
		def   string
	}{
		{
			name: "creates the default rack from env only",
			env:  map[string]string{"RGW_RACK_URL": "https://api.rack.example.com", "RGW_RACK_PASSWORD": "pw"},
			racks: []config.Rack{
				{Name: "default", URL: "https://api.rack.example.com", Password: "pw"},
			},
			def: "default",
		},
		{
			name: "named, with every rack setting",
			env: map[string]string{
				"RGW_RACK_URL": "https://r.example.com", "RGW_RACK_NAME": "edge",
				"RGW_RACK_PASSWORD_FILE": pwFile, "RGW_RACK_CA_FILE": "/ca.pem",
				"RGW_RACK_PIN_SHA256": strings.Repeat("ab", 32),
			},
			racks: []config.Rack{{Name: "edge", URL: "https://r.example.com", Password: "from-file", PasswordFile: pwFile,
				CAFile: "/ca.pem", PinSHA256: strings.Repeat("ab", 32)}},
			def: "edge",
		},
		{
			name: "replaces the file's rack of the same name",
			file: fileJSON,
			env:  map[string]string{"RGW_RACK_URL": "https://new.prod.example.com", "RGW_RACK_NAME": "prod", "RGW_RACK_PASSWORD": "new-pw"},
			racks: []config.Rack{
				{Name: "prod", URL: "https://new.prod.example.com", Password: "new-pw"},
				{Name: "staging", URL: "https://api.staging.example.com", Password: "staging-pw"},
			},
			def: "staging",
		},
		{
			name: "appends a rack with a new name",
			file: fileJSON,
			env:  map[string]string{"RGW_RACK_URL": "https://third.example.com", "RGW_RACK_PASSWORD": "p3"},
			racks: []config.Rack{
				{Name: "prod", URL: "https://api.prod.example.com", Password: "prod-pw"},
				{Name: "staging", URL: "https://api.staging.example.com", Password: "staging-pw"},
				{Name: "default", URL: "https://third.example.com", Password: "p3"},
			},
			def: "staging",
		},
		{
			name: "rack settings without RGW_RACK_URL are ignored",
			env:  map[string]string{"RGW_RACK_NAME": "x", "RGW_RACK_PASSWORD": "pw"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := ""
			if tc.file != "" {
				file = writeFile(t, "gw.json", tc.file)
			}
			c, err := config.Load(file, envMap(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.racks) == 0 {
				if len(c.Racks) != 0 {
					t.Errorf("Racks = %+v, want none", c.Racks)
				}
			} else if !reflect.DeepEqual(c.Racks, tc.racks) {
				t.Errorf("Racks = %+v\nwant %+v", c.Racks, tc.racks)
			}
			if c.DefaultRack != tc.def {
				t.Errorf("DefaultRack = %q, want %q", c.DefaultRack, tc.def)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		file string // JSON content; "" = no file
		path string // used instead of file when set
		env  map[string]string
		want string // substring of the error
	}{
		{name: "unknown field", file: `{"addr": ":1", "racks_typo": []}`, want: `unknown field "racks_typo"`},
		{name: "unknown rack field", file: `{"racks": [{"name": "a", "passwd": "x"}]}`, want: `unknown field "passwd"`},
		{name: "bad JSON", file: `{"addr": `, want: "config file"},
		{name: "bad duration string", file: `{"idle_timeout": "soon"}`, want: "soon"},
		{name: "duration of wrong type", file: `{"idle_timeout": true}`, want: `like "30s"`},
		{name: "missing file", path: "/nonexistent/rgw.json", want: "config file"},
		{name: "env duration", env: map[string]string{"RGW_REQUEST_TIMEOUT": "5 minutes"}, want: "RGW_REQUEST_TIMEOUT"},
		{name: "env cache ttl", env: map[string]string{"RGW_TOKEN_CACHE_TTL": "x"}, want: "RGW_TOKEN_CACHE_TTL"},
		{name: "env header bytes", env: map[string]string{"RGW_MAX_HEADER_BYTES": "64k"}, want: "RGW_MAX_HEADER_BYTES"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.file != "" {
				path = writeFile(t, "gw.json", tc.file)
			}
			c, err := config.Load(path, envMap(tc.env))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"30s"`, 30 * time.Second, false},
		{`"1h2m"`, time.Hour + 2*time.Minute, false},
		{`"250ms"`, 250 * time.Millisecond, false},
		{`1000000000`, time.Second, false},
		{`"30"`, 0, true},
		{`"abc"`, 0, true},
		{`1.5`, 0, true},
		{`{}`, 0, true},
	}
	for _, tc := range cases {
		var d config.Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if tc.err {
			if err == nil {
				t.Errorf("Unmarshal(%s) = %v, want error", tc.in, d.D())
			}
			continue
		}
		if err != nil || d.D() != tc.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tc.in, d.D(), err, tc.want)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back config.Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("round trip of %v via %s = %v, %v", d.D(), b, back.D(), err)
		}
	}
	if b, _ := json.Marshal(config.Duration(90 * time.Second)); string(b) != `"1m30s"` {
		t.Errorf("Marshal(90s) = %s", b)
	}
}

// valid returns a fully valid configuration; each Validate case breaks one
// thing.
func valid(t *testing.T) *config.Config {
	c := &config.Config{
		Addr:        "127.0.0.1:8447",
		DatabaseURL: "sqlite:gw.db",
		Racks: []config.Rack{
			{Name: "prod", URL: "https://api.prod.example.com", Password: "pw"},
			{Name: "dev-1", URL: "http://127.0.0.1:5443", Password: "pw2"},
		},
		DefaultRack:    "prod",
		TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"},
		Audit:          config.Audit{SigningKeyFile: "audit.key", HMACKeyFile: "hmac.key", S3: config.S3Anchors{Bucket: "anchors"}},
		MFA:            config.MFA{EncryptionKeys: "k1:" + strings.Repeat("A", 43) + "="},
	}
	c.SetDefaults(":8447")
	return c
}

func TestValidateValid(t *testing.T) {
	if err := valid(t).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	// Other valid variants.
	variants := []func(c *config.Config){
		func(c *config.Config) { c.Racks[1].URL = "http://localhost:5443/" },
		func(c *config.Config) { c.Racks[1].URL = "http://[::1]:5443" },
		func(c *config.Config) { c.Racks[0].PinSHA256 = strings.Repeat("0A", 32) },
		func(c *config.Config) {
			c.Racks[0].PinSHA256 = strings.TrimSuffix(strings.Repeat("ab:", 32), ":")
		},
		func(c *config.Config) { c.DatabaseURL = "postgres://u@db/gw" },
		func(c *config.Config) { c.DatabaseURL = "postgresql://u@db/gw" },
		func(c *config.Config) { c.LogLevel = "error" },
		func(c *config.Config) { c.DefaultRack = "" },
		func(c *config.Config) { c.TrustedProxies = nil },
		func(c *config.Config) { c.TokenCacheTTL = config.Duration(60 * time.Second) },
		func(c *config.Config) { c.Racks[0].Name = strings.Repeat("a", 63); c.DefaultRack = c.Racks[0].Name },
		func(c *config.Config) { c.Racks[0].Name = "0"; c.DefaultRack = "0" },
		func(c *config.Config) { c.Audit.S3.Bucket = ""; c.Audit.AnchorDir = "anchors" },
		func(c *config.Config) { c.Audit.SigningKeyFile = ""; c.Audit.SigningKey = "seed" },
		func(c *config.Config) { c.Audit.WebhookURL = "https://siem.example.com/in" },
		func(c *config.Config) { c.Audit.WebhookURL = "http://127.0.0.1:9/in" },
	}
	for i, v := range variants {
		c := valid(t)
		v(c)
		if err := c.Validate(); err != nil {
			t.Errorf("variant %d: %v", i, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name    string
		mutate  func(c *config.Config)
		setting string // the setting the error must name
		more    string // another substring the error must contain
	}{
		{"addr", func(c *config.Config) { c.Addr = "8447" }, "addr (RGW_ADDR)", "8447"},
		{"database_url", func(c *config.Config) { c.DatabaseURL = "mysql://x" }, "database_url (RGW_DATABASE_URL)", ""},
		{"tls half", func(c *config.Config) { c.TLSCertFile = "cert.pem" }, "tls_cert_file/tls_key_file", "both or neither"},
		{"no racks", func(c *config.Config) { c.Racks = nil; c.DefaultRack = "" }, "racks (RGW_RACK_URL)", ""},
		{"rack name upper", func(c *config.Config) { c.Racks[0].Name = "Prod"; c.DefaultRack = "Prod" }, "racks[0].name (RGW_RACK_NAME)", `"Prod"`},
		{"rack name empty", func(c *config.Config) { c.Racks[0].Name = ""; c.DefaultRack = "dev-1" }, "racks[0].name", ""},
		{"rack name underscore", func(c *config.Config) { c.Racks[1].Name = "dev_1" }, "racks[1].name", `"dev_1"`},
		{"rack name leading dash", func(c *config.Config) { c.Racks[1].Name = "-dev" }, "racks[1].name", ""},
		{"rack name trailing dash", func(c *config.Config) { c.Racks[1].Name = "dev-" }, "racks[1].name", ""},
		{"rack name slash", func(c *config.Config) { c.Racks[1].Name = "a/b" }, "racks[1].name", ""},
		{"rack name too long", func(c *config.Config) { c.Racks[1].Name = strings.Repeat("a", 64) }, "racks[1].name", ""},
		{"duplicate rack", func(c *config.Config) { c.Racks[1].Name = "prod" }, "racks[1].name", `duplicate rack name "prod"`},
		{"rack url empty", func(c *config.Config) { c.Racks[0].URL = "" }, "racks[0].url (RGW_RACK_URL)", "required"},
		{"http non-loopback", func(c *config.Config) { c.Racks[0].URL = "http://api.prod.example.com" }, "racks[0].url (RGW_RACK_URL)", "https"},
		{"http private ip", func(c *config.Config) { c.Racks[0].URL = "http://10.0.0.5:5443" }, "racks[0].url", "https"},
		{"http localhost lookalike", func(c *config.Config) { c.Racks[0].URL = "http://localhost.example.com" }, "racks[0].url", "https"},
		{"ftp scheme", func(c *config.Config) { c.Racks[0].URL = "ftp://api.prod.example.com" }, "racks[0].url", `"ftp"`},
		{"no scheme", func(c *config.Config) { c.Racks[0].URL = "api.prod.example.com" }, "racks[0].url", ""},
		{"no scheme with port", func(c *config.Config) { c.Racks[0].URL = "//api.prod.example.com:443" }, "racks[0].url", "https"},
		{"password in url", func(c *config.Config) { c.Racks[0].URL = "https://convox:pw@api.prod.example.com" }, "racks[0].url", "password_file"},
		{"path in url", func(c *config.Config) { c.Racks[0].URL = "https://api.prod.example.com/v1" }, "racks[0].url", "path"},
		{"query in url", func(c *config.Config) { c.Racks[0].URL = "https://api.prod.example.com?x=1" }, "racks[0].url", "query"},
		{"no host", func(c *config.Config) { c.Racks[0].URL = "https://" }, "racks[0].url", "host"},
		{"password missing", func(c *config.Config) { c.Racks[1].Password = "" }, "racks[1].password (RGW_RACK_PASSWORD)", "required"},
		{"password_file not read", func(c *config.Config) { c.Racks[0].Password, c.Racks[0].PasswordFile = "", missing }, "racks[0].password_file (RGW_RACK_PASSWORD_FILE)", "missing"},
		{"ca_file missing", func(c *config.Config) { c.Racks[0].CAFile = missing }, "racks[0].ca_file (RGW_RACK_CA_FILE)", ""},
		{"pin short", func(c *config.Config) { c.Racks[0].PinSHA256 = strings.Repeat("ab", 31) }, "racks[0].pin_sha256 (RGW_RACK_PIN_SHA256)", "64 hex"},
		{"pin long", func(c *config.Config) { c.Racks[0].PinSHA256 = strings.Repeat("ab", 33) }, "racks[0].pin_sha256", "64 hex"},
		{"pin not hex", func(c *config.Config) { c.Racks[0].PinSHA256 = strings.Repeat("zz", 32) }, "racks[0].pin_sha256", "64 hex"},
		{"key pin short", func(c *config.Config) { c.Racks[0].PinPublicKeySHA256 = strings.Repeat("ab", 31) }, "racks[0].pin_pubkey_sha256 (RGW_RACK_PIN_PUBKEY_SHA256)", "64 hex"},
		{"two pins", func(c *config.Config) {
			c.Racks[0].PinSHA256, c.Racks[0].PinPublicKeySHA256 = strings.Repeat("ab", 32), strings.Repeat("cd", 32)
		}, "racks[0].pin_pubkey_sha256", "one pin"},
		{"default_rack unknown", func(c *config.Config) { c.DefaultRack = "nope" }, "default_rack (RGW_DEFAULT_RACK)", `"nope"`},
		{"trusted_proxies bare ip", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.1"} }, "trusted_proxies (RGW_TRUSTED_PROXIES)", `"10.0.0.1"`},
		{"trusted_proxies junk", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "lb"} }, "trusted_proxies", `"lb"`},
		{"trusted_proxies bad bits", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies", ""},
		{"no signing key", func(c *config.Config) { c.Audit.SigningKeyFile = "" }, "audit.signing_key_file (RGW_AUDIT_SIGNING_KEY_FILE)", "keygen"},
		{"no hmac key", func(c *config.Config) { c.Audit.HMACKeyFile = "" }, "audit.hmac_key_file (RGW_AUDIT_HMAC_KEY_FILE)", ""},
		{"no mfa keys", func(c *config.Config) { c.MFA.EncryptionKeys = "" }, "mfa.encryption_keys (RGW_MFA_ENCRYPTION_KEYS)", "mfa-keygen"},
		{"mfa window", func(c *config.Config) { c.MFA.StepUpWindow = config.Duration(time.Second) }, "mfa.step_up_window", ""},
		{"mfa lockout", func(c *config.Config) { c.MFA.LockAfter = 1 }, "mfa.lock_after", ""},
		{"yubico half", func(c *config.Config) { c.MFA.YubicoClientID = "1" }, "mfa.yubico_client_id", "both"},
		{"yubico http", func(c *config.Config) {
			c.MFA.YubicoClientID, c.MFA.YubicoAPIKey, c.MFA.YubicoServers = "1", "a2V5", []string{"http://yk.example.com/wsapi/2.0/verify"}
		}, "mfa.yubico_servers", "https"},
		{"no anchors", func(c *config.Config) { c.Audit.S3.Bucket = "" }, "audit.s3.bucket (RGW_AUDIT_S3_BUCKET)", "Object Lock"},
		{"two anchors", func(c *config.Config) { c.Audit.AnchorDir = "x" }, "audit.s3.bucket", "not both"},
		{"retention", func(c *config.Config) { c.Audit.S3.RetentionDays = -1 }, "audit.s3.retention_days", ""},
		{"checkpoint every", func(c *config.Config) { c.Audit.CheckpointEvery = -5 }, "audit.checkpoint_every", ""},
		{"checkpoint interval", func(c *config.Config) { c.Audit.CheckpointInterval = config.Duration(time.Millisecond) }, "audit.checkpoint_interval", ""},
		{"webhook http", func(c *config.Config) { c.Audit.WebhookURL = "http://siem.example.com/in" }, "audit.webhook_url (RGW_AUDIT_WEBHOOK_URL)", "https"},
		{"max_header_bytes small", func(c *config.Config) { c.MaxHeaderBytes = 100 }, "max_header_bytes (RGW_MAX_HEADER_BYTES)", ""},
		{"max_header_bytes large", func(c *config.Config) { c.MaxHeaderBytes = 2 << 20 }, "max_header_bytes", ""},
		{"log level", func(c *config.Config) { c.LogLevel = "verbose" }, "log_level (RGW_LOG_LEVEL)", `"verbose"`},
		{"log level case", func(c *config.Config) { c.LogLevel = "INFO" }, "log_level", ""},
		{"token ttl negative", func(c *config.Config) { c.TokenCacheTTL = config.Duration(-time.Second) }, "token_cache_ttl (RGW_TOKEN_CACHE_TTL)", ""},
		{"token ttl large", func(c *config.Config) { c.TokenCacheTTL = config.Duration(61 * time.Second) }, "token_cache_ttl", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid(t)
			tc.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.setting) {
				t.Errorf("error %q does not name %q", msg, tc.setting)
			}
			if tc.more != "" && !strings.Contains(msg, tc.more) {
				t.Errorf("error %q does not contain %q", msg, tc.more)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := valid(t)
	c.Racks[0].Name = "BAD"
	c.DefaultRack = "none"
	c.LogLevel = "loud"
	c.TrustedProxies = []string{"x"}
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, s := range []string{"racks[0].name", "log_level", "trusted_proxies", "default_rack"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("joined error %q lacks %q", err, s)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 4 {
		t.Errorf("want 4 errors, one a line; got %d: %q", n, err)
	}
}

func TestValidatePasswordFile(t *testing.T) {
	cases := []struct {
		content string
		want    string
	}{
		{"s3cret\n", "s3cret"},
		{"  s3cret \r\n\n", "s3cret"},
		{"pw with inner space\n", "pw with inner space"},
	}
	for _, tc := range cases {
		c := valid(t)
		c.Racks[0].Password = "overridden"
		c.Racks[0].PasswordFile = writeFile(t, "pw", tc.content)
		if err := c.ReadSecretFiles(); err != nil {
			t.Fatalf("ReadSecretFiles: %v", err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if c.Racks[0].Password != tc.want {
			t.Errorf("password from %q = %q, want %q", tc.content, c.Racks[0].Password, tc.want)
		}
	}
	// A file holding only whitespace leaves no password.
	c := valid(t)
	c.Racks[0].Password = ""
	c.Racks[0].PasswordFile = writeFile(t, "pw", " \n\t\n")
	if err := c.ReadSecretFiles(); err != nil {
		t.Fatalf("ReadSecretFiles: %v", err)
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "racks[0].password_file (RGW_RACK_PASSWORD_FILE)") {
		t.Errorf("blank password file: %v", err)
	}
	// A missing file is an error of ReadSecretFiles, naming the setting.
	c = valid(t)
	c.Racks[1].PasswordFile = filepath.Join(t.TempDir(), "missing")
	err = c.ReadSecretFiles()
	if err == nil || !strings.Contains(err.Error(), "racks[1].password_file (RGW_RACK_PASSWORD_FILE)") {
		t.Errorf("missing password file: %v", err)
	}
}

// Validate never changes the configuration it checks.
func TestValidateHasNoSideEffects(t *testing.T) {
	c := valid(t)
	c.Racks[0].PasswordFile = writeFile(t, "pw", "from-file\n")
	c.OIDC.ClientSecretFile = writeFile(t, "oidc", "oidc-secret\n")
	before := fmt.Sprintf("%+v", *c)
	_ = c.Validate()
	if after := fmt.Sprintf("%+v", *c); after != before {
		t.Errorf("Validate changed the config:\n%s\n->\n%s", before, after)
	}
}

func TestValidateErrorsDoNotLeakPassword(t *testing.T) {
	c := valid(t)
	c.Racks[0].URL = "https://convox:hunter2-rack-pw@api.prod.example.com"
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted a URL with a password")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	cases := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"localhost.example.com", false},
		{"mylocalhost", false},
		{"127.0.0.1.nip.io", false},
		{"[::1]", false}, // a Hostname() never has brackets
		{"example.com", false},
	}
	for _, tc := range cases {
		if got := config.IsLoopbackHost(tc.host); got != tc.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
