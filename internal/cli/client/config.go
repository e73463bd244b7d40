package client

// Client side of rack-gateway: the saved logins ("racks") of one person.
//
// Credentials live in $XDG_CONFIG_HOME/rack-gateway/config.json (default
// ~/.config/rack-gateway/config.json): the directory 0700, the file 0600,
// replaced atomically on every change. A file that other users can read is
// refused, since it holds session tokens.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// clientNow is the client's clock; tests may replace it.
var clientNow = time.Now

// clientConfig is the saved logins, keyed by rack name.
type clientConfig struct {
	Current string                `json:"current,omitempty"`
	Racks   map[string]*rackLogin `json:"racks"`
}

// rackLogin is one gateway login.
type rackLogin struct {
	URL       string `json:"url"`
	Token     string `json:"token"`
	Email     string `json:"email,omitempty"`
	Role      string `json:"role,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"` // RFC 3339
}

func (c *clientConfig) names() []string {
	out := make([]string, 0, len(c.Racks))
	for n := range c.Racks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// known says which racks exist, for error messages.
func (c *clientConfig) known() string {
	if len(c.Racks) == 0 {
		return "no racks are logged in"
	}
	return "known racks: " + strings.Join(c.names(), ", ")
}

// clientConfigPath is where the saved logins live.
func clientConfigPath(e *cmdutil.Env) (string, error) {
	if d := e.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "rack-gateway", "config.json"), nil
	}
	home := e.Getenv("HOME")
	if home == "" && runtime.GOOS == "windows" {
		home = e.Getenv("USERPROFILE")
	}
	if home == "" {
		return "", errors.New("cannot find the home directory: set HOME or XDG_CONFIG_HOME")
	}
	return filepath.Join(home, ".config", "rack-gateway", "config.json"), nil
}

// loadClientConfig reads the saved logins; a missing file is an empty
// config. It refuses a file that other users can access.
func loadClientConfig(e *cmdutil.Env) (*clientConfig, string, error) {
	path, err := clientConfigPath(e)
	if err != nil {
		return nil, "", err
	}
	cfg := &clientConfig{Racks: map[string]*rackLogin{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, path, fmt.Errorf("read credentials: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, path, fmt.Errorf("refusing to use %s: it holds session tokens but other users can access it (mode %04o); "+
			"run `chmod 600 %s` (and log in again if someone may have read it)", path, fi.Mode().Perm(), path)
	}
	if err := json.NewDecoder(f).Decode(cfg); err != nil {
		return nil, path, fmt.Errorf("%s is not valid: %v (remove it and log in again)", path, err)
	}
	if cfg.Racks == nil {
		cfg.Racks = map[string]*rackLogin{}
	}
	for n, r := range cfg.Racks {
		if r == nil {
			delete(cfg.Racks, n)
		}
	}
	if _, ok := cfg.Racks[cfg.Current]; !ok {
		// A current rack that is not saved (a file edited by hand, or
		// by an older version) is no current rack: commands then say
		// "not logged in" or "no current rack", not "unknown rack".
		cfg.Current = ""
	}
	return cfg, path, nil
}

// saveClientConfig writes the config atomically (temp file, then rename)
// with mode 0600 in a 0700 directory.
func saveClientConfig(path string, cfg *clientConfig) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("save credentials: %w", err)
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// target is the gateway and credential a client command talks to.
type target struct {
	Name      string // saved rack name; "" in CI mode
	URL       string // gateway base URL, no trailing slash
	Token     string
	Email     string
	Role      string
	ExpiresAt string
	CI        bool // from RACK_GATEWAY_URL and RACK_GATEWAY_TOKEN
	Current   bool // the current saved rack
	// prompt asks the person for a second factor when a call needs one.
	prompt *prompter
}

// label names the target in messages.
func (t *target) label() string {
	if t.CI {
		return "the gateway at " + t.URL + " (RACK_GATEWAY_URL)"
	}
	return "rack '" + t.Name + "'"
}

// relogin is the command that renews the target's session.
func (t *target) relogin() string {
	return "`rack-gateway login " + t.URL + " --name " + t.Name + "`"
}

// expired reports whether the saved session has passed its expiry.
func (t *target) expired() bool {
	if t.CI || t.ExpiresAt == "" {
		return false
	}
	exp, err := time.Parse(time.RFC3339, t.ExpiresAt)
	return err == nil && !clientNow().Before(exp)
}

// errExpired is the message for a session known to have expired.
func (t *target) errExpired() error {
	return fmt.Errorf("session expired for %s: run %s", t.label(), t.relogin())
}

// rackFlag adds the --rack flag every client command takes.
func rackFlag(fs *flag.FlagSet) *string {
	return fs.String("rack", "", "saved rack to use (default $RACK_GATEWAY_RACK, else the current rack)")
}

// resolveTarget picks the rack: the --rack flag; else, when allowCI,
// RACK_GATEWAY_URL with RACK_GATEWAY_TOKEN (no config file read); else
// $RACK_GATEWAY_RACK; else the current rack.
func resolveTarget(e *cmdutil.Env, rackName string, allowCI bool) (*target, error) {
	if rackName == "" && allowCI {
		u, tok := e.Getenv("RACK_GATEWAY_URL"), e.Getenv("RACK_GATEWAY_TOKEN")
		switch {
		case u != "" && tok != "":
			gw, err := normalizeGatewayURL(u)
			if err != nil {
				return nil, fmt.Errorf("RACK_GATEWAY_URL: %v", err)
			}
			return &target{URL: gw, Token: strings.TrimSpace(tok), CI: true}, nil
		case u != "":
			return nil, errors.New("RACK_GATEWAY_URL is set but RACK_GATEWAY_TOKEN is not: set both (an API token) or neither")
		case tok != "":
			return nil, errors.New("RACK_GATEWAY_TOKEN is set but RACK_GATEWAY_URL is not: set both or neither")
		}
	}
	cfg, _, err := loadClientConfig(e)
	if err != nil {
		return nil, err
	}
	return pickRack(e, cfg, rackName)
}

// pickRack finds a saved rack by name ("" for $RACK_GATEWAY_RACK, else the
// current one).
func pickRack(e *cmdutil.Env, cfg *clientConfig, name string) (*target, error) {
	if name == "" {
		name = e.Getenv("RACK_GATEWAY_RACK")
	}
	if name == "" {
		name = cfg.Current
		if name == "" {
			if len(cfg.Racks) == 0 {
				return nil, errors.New("not logged in to any gateway: run `rack-gateway login https://GATEWAY`")
			}
			return nil, fmt.Errorf("no current rack (%s): run `rack-gateway switch NAME` or pass --rack NAME", cfg.known())
		}
	}
	r, ok := cfg.Racks[name]
	if !ok {
		return nil, fmt.Errorf("unknown rack %q (%s): add it with `rack-gateway login https://GATEWAY --name %s`", name, cfg.known(), name)
	}
	return &target{Name: name, URL: r.URL, Token: r.Token, Email: r.Email, Role: r.Role,
		ExpiresAt: r.ExpiresAt, Current: name == cfg.Current}, nil
}

// normalizeGatewayURL checks a gateway URL and returns it without a
// trailing slash, query or fragment. A bare host means https. Plain http
// is allowed only for loopback gateways (tokens would cross the network
// in the clear).
func normalizeGatewayURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("give the gateway URL, e.g. https://gateway.example.com")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid gateway URL %q", raw)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("gateway URL %q: want https://HOST", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("gateway URL %q has no host", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("gateway URL must not contain credentials")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("plain http is allowed only for a gateway on loopback: use https://%s", u.Host)
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// defaultRackName derives a rack name from the gateway's host (with its
// port, if any): lower case, runs of other characters turned into "-".
func defaultRackName(gatewayURL string) string {
	u, err := url.Parse(gatewayURL)
	if err != nil {
		return "default"
	}
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(u.Host) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	if s == "" {
		return "default"
	}
	return s
}

// validRackName accepts what the gateway accepts as a CLI session name
// (1–64 of [A-Za-z0-9._-]), not starting with '-' or '.'.
func validRackName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// fmtExpiry shows an RFC 3339 expiry as "in 3d 4h (2026-07-02T10:00:00Z)"
// or "expired (…)".
func fmtExpiry(s string) string {
	if s == "" {
		return "unknown"
	}
	exp, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	abs := timefmt.Display(exp)
	d := exp.Sub(clientNow())
	if d <= 0 {
		return "expired (" + abs + ")"
	}
	return "in " + fmtDuration(d) + " (" + abs + ")"
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return "less than a minute"
}

// rackArg is the --rack argument that names t in a suggested command, ""
// for the current rack.
func rackArg(t *target) string {
	if t.Name == "" || t.Current {
		return ""
	}
	return " --rack " + t.Name
}
