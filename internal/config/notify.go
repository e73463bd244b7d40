package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// NotifyEvents are the kinds of event the gateway notifies about. A
// channel's event patterns must each match at least one of them.
var NotifyEvents = []string{
	"approval.requested", "approval.approved", "approval.rejected", "approval.expired", "approval.deployed",
	"mfa.locked", "mfa.method_removed", "user.role_changed",
}

// Notification channel types.
const (
	NotifySlackWebhook = "slack-webhook" // a Slack incoming webhook
	NotifySlackBot     = "slack-bot"     // a Slack app's bot token (chat.postMessage)
	NotifyEmail        = "email"         // email over SMTP
	NotifyWebhook      = "webhook"       // a signed JSON POST to any HTTPS endpoint
)

// DefaultSlackAPIURL is the Slack Web API base URL of slack-bot channels.
const DefaultSlackAPIURL = "https://slack.com/api"

// Notify configures notifications (file only; no RGW_* variables): where
// events such as a deploy waiting for approval are sent, and how failed
// deliveries are retried. Each event becomes one durable job per channel
// whose events match it, delivered and retried by every replica's worker
// from the database, so that a restart loses none.
type Notify struct {
	// Channels are the destinations. None: nothing is sent.
	Channels []NotifyChannel `json:"channels"`
	// MaxAttempts is how many times a delivery is tried before it is
	// given up (default 8).
	MaxAttempts int `json:"max_attempts"`
	// BaseBackoff is the wait after the first failure; it doubles after
	// each further failure (with jitter) up to MaxBackoff (defaults 30s
	// and 1h). A receiver's Retry-After (HTTP 429) wins.
	BaseBackoff Duration `json:"base_backoff"`
	MaxBackoff  Duration `json:"max_backoff"`
	// PollInterval is how often each replica looks for due deliveries
	// (default 5s); events published on a replica go out at once.
	PollInterval Duration `json:"poll_interval"`
	// KeepFinished is how long delivered and given-up jobs are kept for
	// inspection (default 720h).
	KeepFinished Duration `json:"keep_finished"`
}

// NotifyChannel is one destination of notifications. Which settings apply
// depends on Type; a setting of another type is an error.
type NotifyChannel struct {
	// Name identifies the channel in jobs, logs and audit events:
	// lower-case letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Type is slack-webhook, slack-bot, email or webhook.
	Type string `json:"type"`
	// Events are glob patterns (path.Match) of the event kinds sent here,
	// e.g. "approval.*"; empty sends every kind (NotifyEvents).
	Events []string `json:"events"`

	// URL is the Slack incoming webhook URL (slack-webhook; a secret:
	// whoever has it can post to the channel) or the receiver's URL
	// (webhook). https, or http on loopback; URLFile holds it instead.
	URL     string `json:"url"`
	URLFile string `json:"url_file"`

	// Token is the Slack app's bot token, xoxb-… (slack-bot; TokenFile
	// holds it instead), Channel the Slack channel id or name to post to
	// (the app must be in it), APIURL the Web API base URL (default
	// https://slack.com/api).
	Token     string `json:"token"`
	TokenFile string `json:"token_file"`
	Channel   string `json:"channel"`
	APIURL    string `json:"api_url"`

	// SMTPAddr is the mail server's host:port (email), e.g.
	// smtp.example.com:587.
	SMTPAddr string `json:"smtp_addr"`
	// SMTPRequireTLS refuses to send unless the connection is upgraded
	// with STARTTLS (default true). false is allowed only for a loopback
	// server (a local relay or a development mail catcher).
	SMTPRequireTLS *bool `json:"smtp_require_tls"`
	// SMTPCAFile pins the CA bundle the server's certificate is verified
	// against instead of the system roots.
	SMTPCAFile string `json:"smtp_ca_file"`
	// SMTPUsername and SMTPPassword (or SMTPPasswordFile) log in with
	// AUTH PLAIN, only ever over TLS (or to a loopback server).
	SMTPUsername     string `json:"smtp_username"`
	SMTPPassword     string `json:"smtp_password"`
	SMTPPasswordFile string `json:"smtp_password_file"`
	// From is the sender, e.g. "Rack Gateway <gateway@example.com>"; To
	// the recipients.
	From string   `json:"from"`
	To   []string `json:"to"`

	// Secret keys the HMAC-SHA256 signature of each webhook delivery
	// (webhook; at least 32 characters, e.g. `openssl rand -hex 32`);
	// SecretFile holds it instead.
	Secret     string `json:"secret"`
	SecretFile string `json:"secret_file"`
}

// RequireTLS reports whether the channel's SMTP connection must use
// STARTTLS (the default).
func (c *NotifyChannel) RequireTLS() bool { return c.SMTPRequireTLS == nil || *c.SMTPRequireTLS }

// Matches reports whether events of kind are sent to the channel.
func (c *NotifyChannel) Matches(kind string) bool {
	if len(c.Events) == 0 {
		return true
	}
	for _, p := range c.Events {
		if ok, _ := path.Match(p, kind); ok {
			return true
		}
	}
	return false
}

// SetDefaults fills zero fields; Config.SetDefaults calls it.
func (n *Notify) SetDefaults() {
	if n.MaxAttempts == 0 {
		n.MaxAttempts = 8
	}
	if n.BaseBackoff == 0 {
		n.BaseBackoff = Duration(30 * time.Second)
	}
	if n.MaxBackoff == 0 {
		n.MaxBackoff = Duration(time.Hour)
	}
	if n.PollInterval == 0 {
		n.PollInterval = Duration(5 * time.Second)
	}
	if n.KeepFinished == 0 {
		n.KeepFinished = Duration(30 * 24 * time.Hour)
	}
	for i := range n.Channels {
		if c := &n.Channels[i]; c.Type == NotifySlackBot && c.APIURL == "" {
			c.APIURL = DefaultSlackAPIURL
		}
	}
}

// ReadSecretFiles reads the channels' secret files (webhook URLs, tokens,
// SMTP passwords, signing secrets) into the settings they stand for,
// trimmed of surrounding white space; Config.ReadSecretFiles calls it.
// Errors name the setting, never a secret.
func (n *Notify) ReadSecretFiles() error {
	var errs []error
	for i := range n.Channels {
		c := &n.Channels[i]
		at := fmt.Sprintf("notify.channels[%d]", i)
		for _, f := range []struct {
			setting, file string
			dst           *string
		}{
			{"url_file", c.URLFile, &c.URL},
			{"token_file", c.TokenFile, &c.Token},
			{"smtp_password_file", c.SMTPPasswordFile, &c.SMTPPassword},
			{"secret_file", c.SecretFile, &c.Secret},
		} {
			if f.file == "" {
				continue
			}
			b, err := os.ReadFile(f.file)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.%s: %v", at, f.setting, err))
				continue
			}
			*f.dst = strings.TrimSpace(string(b))
		}
	}
	return errors.Join(errs...)
}

var notifyChannelName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// notifySettings are the settings each channel type uses, by JSON name
// (name, type and events apply to all).
var notifySettings = map[string][]string{
	NotifySlackWebhook: {"url"},
	NotifySlackBot:     {"token", "channel", "api_url"},
	NotifyEmail:        {"smtp_addr", "smtp_require_tls", "smtp_ca_file", "smtp_username", "smtp_password", "from", "to"},
	NotifyWebhook:      {"url", "secret"},
}

// Validate checks the notification settings after SetDefaults and
// ReadSecretFiles, reading no file but for checking that a CA file
// exists; Config.Validate calls it. Every error names the setting, and
// none holds a secret.
func (n *Notify) Validate() error {
	var errs []error
	bad := func(setting, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", setting, fmt.Sprintf(format, a...)))
	}
	if n.MaxAttempts < 1 || n.MaxAttempts > 100 {
		bad("notify.max_attempts", "must be between 1 and 100")
	}
	if d := n.BaseBackoff.D(); d < time.Second || d > time.Hour {
		bad("notify.base_backoff", "must be between 1s and 1h")
	}
	if d := n.MaxBackoff.D(); d < n.BaseBackoff.D() || d > 24*time.Hour {
		bad("notify.max_backoff", "must be between base_backoff and 24h")
	}
	if d := n.PollInterval.D(); d < time.Second || d > 10*time.Minute {
		bad("notify.poll_interval", "must be between 1s and 10m")
	}
	if d := n.KeepFinished.D(); d < time.Hour {
		bad("notify.keep_finished", "must be at least 1h")
	}
	seen := map[string]bool{}
	for i := range n.Channels {
		n.Channels[i].validate(fmt.Sprintf("notify.channels[%d]", i), seen, bad)
	}
	return errors.Join(errs...)
}

func (c *NotifyChannel) validate(at string, seen map[string]bool, bad func(setting, format string, a ...any)) {
	if !notifyChannelName.MatchString(c.Name) {
		bad(at+".name", "%q must be lower-case letters, digits, '-' and '_'", c.Name)
	}
	if seen[c.Name] {
		bad(at+".name", "duplicate channel name %q", c.Name)
	}
	seen[c.Name] = true
	uses, ok := notifySettings[c.Type]
	if !ok {
		bad(at+".type", "%q must be slack-webhook, slack-bot, email or webhook", c.Type)
		return
	}
	for _, p := range c.Events {
		if _, err := path.Match(p, ""); err != nil {
			bad(at+".events", "%q is not a valid pattern", p)
			continue
		}
		matched := false
		for _, k := range NotifyEvents {
			if ok, _ := path.Match(p, k); ok {
				matched = true
			}
		}
		if !matched {
			bad(at+".events", "%q matches no event (%s)", p, strings.Join(NotifyEvents, ", "))
		}
	}
	set := map[string]bool{
		"url": c.URL != "" || c.URLFile != "", "token": c.Token != "" || c.TokenFile != "",
		"channel": c.Channel != "", "api_url": c.APIURL != "", "smtp_addr": c.SMTPAddr != "",
		"smtp_require_tls": c.SMTPRequireTLS != nil, "smtp_ca_file": c.SMTPCAFile != "",
		"smtp_username": c.SMTPUsername != "", "smtp_password": c.SMTPPassword != "" || c.SMTPPasswordFile != "",
		"from": c.From != "", "to": len(c.To) > 0, "secret": c.Secret != "" || c.SecretFile != "",
	}
	for _, s := range uses {
		delete(set, s)
	}
	for s, on := range set {
		if on {
			bad(at+"."+s, "is not a setting of type %s", c.Type)
		}
	}
	secret := func(setting, v, file string) bool {
		switch {
		case v == "" && file != "":
			bad(at+"."+setting+"_file", "%s was not read (ReadSecretFiles) or holds only white space", file)
		case v == "":
			bad(at+"."+setting, "required for type %s", c.Type)
		default:
			return true
		}
		return false
	}
	switch c.Type {
	case NotifySlackWebhook:
		if secret("url", c.URL, c.URLFile) {
			checkNotifyURL(at+".url", c.URL, false, bad)
		}
	case NotifySlackBot:
		if secret("token", c.Token, c.TokenFile) && !strings.HasPrefix(c.Token, "xox") {
			bad(at+".token", "is not a Slack token (xoxb-…)")
		}
		if c.Channel == "" {
			bad(at+".channel", "required for type slack-bot")
		}
		checkNotifyURL(at+".api_url", c.APIURL, true, bad)
	case NotifyEmail:
		c.validateEmail(at, bad)
	case NotifyWebhook:
		if c.URL == "" {
			bad(at+".url", "required for type webhook")
		} else {
			checkNotifyURL(at+".url", c.URL, false, bad)
		}
		if secret("secret", c.Secret, c.SecretFile) && len(c.Secret) < 32 {
			bad(at+".secret", "must be at least 32 characters (openssl rand -hex 32)")
		}
	}
}

func (c *NotifyChannel) validateEmail(at string, bad func(setting, format string, a ...any)) {
	host, port, err := net.SplitHostPort(c.SMTPAddr)
	if err != nil || host == "" || port == "" {
		bad(at+".smtp_addr", "%q is not host:port", c.SMTPAddr)
	} else if !c.RequireTLS() && !IsLoopbackHost(host) {
		bad(at+".smtp_require_tls", "may be false only for a loopback server, not %s", host)
	}
	if c.SMTPCAFile != "" {
		if _, err := os.Stat(c.SMTPCAFile); err != nil {
			bad(at+".smtp_ca_file", "%v", err)
		}
	}
	if c.SMTPPassword == "" && c.SMTPPasswordFile != "" {
		bad(at+".smtp_password_file", "%s was not read (ReadSecretFiles) or holds only white space", c.SMTPPasswordFile)
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "" && c.SMTPPasswordFile == "") {
		bad(at+".smtp_username", "set smtp_username and smtp_password together, or neither")
	}
	if a, err := mail.ParseAddress(c.From); err != nil || strings.ContainsAny(a.Address, "\r\n") {
		bad(at+".from", "%q is not an email address", c.From)
	}
	if len(c.To) == 0 {
		bad(at+".to", "at least one recipient is required")
	}
	for _, to := range c.To {
		if _, err := mail.ParseAddress(to); err != nil {
			bad(at+".to", "%q is not an email address", to)
		}
	}
}

// checkNotifyURL checks an http(s) URL. A URL that may hold a secret (a
// Slack webhook's, or a receiver's with a token in it) is not quoted in
// the error.
func checkNotifyURL(setting, raw string, quote bool, bad func(setting, format string, a ...any)) {
	shown := "the URL"
	if quote {
		shown = fmt.Sprintf("%q", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		bad(setting, "%s is not a URL", shown)
		return
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname())) {
		bad(setting, "%s must be https (http only for loopback)", shown)
	}
}
