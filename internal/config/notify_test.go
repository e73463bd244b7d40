package config_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

const notifyJSON = `{
  "channels": [
    {"name": "deploys", "type": "slack-webhook", "events": ["approval.*"], "url_file": "%s"},
    {"name": "ops-bot", "type": "slack-bot", "token": "xoxb-1-2-abc", "channel": "C0123456789", "events": ["mfa.*", "user.role_changed"]},
    {"name": "security", "type": "email", "events": ["mfa.locked"], "smtp_addr": "smtp.example.com:587",
     "smtp_username": "gateway", "smtp_password_file": "%s", "from": "Rack Gateway <gateway@example.com>",
     "to": ["security@example.com"]},
    {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/rgw", "secret_file": "%s"}
  ]
}`

func loadNotify(t *testing.T) config.Notify {
	t.Helper()
	hook := writeFile(t, "slack", "https://hooks.slack.com/services/T0/B0/secretpath\n")
	pw := writeFile(t, "smtp", "  smtp-password \n")
	secret := writeFile(t, "secret", strings.Repeat("s", 40))
	var n config.Notify
	dec := json.NewDecoder(strings.NewReader(fmt.Sprintf(notifyJSON, hook, pw, secret)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	n.SetDefaults()
	if err := n.ReadSecretFiles(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNotifyLoad(t *testing.T) {
	n := loadNotify(t)
	if err := n.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if n.MaxAttempts != 8 || n.BaseBackoff.D() != 30*time.Second || n.MaxBackoff.D() != time.Hour ||
		n.PollInterval.D() != 5*time.Second || n.KeepFinished.D() != 720*time.Hour {
		t.Errorf("defaults %+v", n)
	}
	c := n.Channels
	if c[0].URL != "https://hooks.slack.com/services/T0/B0/secretpath" || c[2].SMTPPassword != "smtp-password" ||
		c[3].Secret != strings.Repeat("s", 40) || c[1].APIURL != config.DefaultSlackAPIURL || !c[2].RequireTLS() {
		t.Errorf("channels %+v", c)
	}
	for _, m := range []struct {
		ch   int
		kind string
		want bool
	}{{0, "approval.requested", true}, {0, "mfa.locked", false}, {1, "mfa.method_removed", true}, {1, "user.role_changed", true},
		{1, "approval.approved", false}, {3, "approval.deployed", true}, {3, "mfa.locked", true}} {
		if got := c[m.ch].Matches(m.kind); got != m.want {
			t.Errorf("%s matches %s: %v, want %v", c[m.ch].Name, m.kind, got, m.want)
		}
	}
}

func TestNotifyReadSecretFilesErrors(t *testing.T) {
	n := config.Notify{Channels: []config.NotifyChannel{{Name: "x", Type: config.NotifyWebhook, SecretFile: "/nonexistent/secret"}}}
	err := n.ReadSecretFiles()
	if err == nil || !strings.Contains(err.Error(), "notify.channels[0].secret_file") {
		t.Fatalf("ReadSecretFiles error %v", err)
	}
}

func TestNotifyValidateErrors(t *testing.T) {
	no := false
	for _, c := range []struct {
		name    string
		change  func(n *config.Notify)
		setting string
	}{
		{"max attempts", func(n *config.Notify) { n.MaxAttempts = 0 }, "notify.max_attempts"},
		{"base backoff", func(n *config.Notify) { n.BaseBackoff = config.Duration(time.Millisecond) }, "notify.base_backoff"},
		{"max below base", func(n *config.Notify) { n.MaxBackoff = config.Duration(time.Second) }, "notify.max_backoff"},
		{"poll", func(n *config.Notify) { n.PollInterval = config.Duration(time.Hour) }, "notify.poll_interval"},
		{"keep", func(n *config.Notify) { n.KeepFinished = config.Duration(time.Minute) }, "notify.keep_finished"},
		{"name", func(n *config.Notify) { n.Channels[0].Name = "Deploys!" }, "notify.channels[0].name"},
		{"duplicate name", func(n *config.Notify) { n.Channels[1].Name = "deploys" }, "notify.channels[1].name"},
		{"type", func(n *config.Notify) { n.Channels[0].Type = "sms" }, "notify.channels[0].type"},
		{"a pattern matching nothing", func(n *config.Notify) { n.Channels[0].Events = []string{"aproval.*"} }, "notify.channels[0].events"},
		{"a bad pattern", func(n *config.Notify) { n.Channels[0].Events = []string{"approval.[*"} }, "notify.channels[0].events"},
		{"no slack webhook url", func(n *config.Notify) { n.Channels[0].URL = "" }, "notify.channels[0].url_file"},
		{"an http slack webhook", func(n *config.Notify) { n.Channels[0].URL = "http://hooks.slack.com/services/x" }, "notify.channels[0].url"},
		{"a setting of another type", func(n *config.Notify) { n.Channels[0].Secret = "x" }, "notify.channels[0].secret"},
		{"smtp settings on slack", func(n *config.Notify) { n.Channels[1].SMTPAddr = "x:25" }, "notify.channels[1].smtp_addr"},
		{"no bot token", func(n *config.Notify) { n.Channels[1].Token = "" }, "notify.channels[1].token"},
		{"not a slack token", func(n *config.Notify) { n.Channels[1].Token = "abc" }, "notify.channels[1].token"},
		{"no bot channel", func(n *config.Notify) { n.Channels[1].Channel = "" }, "notify.channels[1].channel"},
		{"a bad api url", func(n *config.Notify) { n.Channels[1].APIURL = "ftp://slack.com/api" }, "notify.channels[1].api_url"},
		{"smtp addr", func(n *config.Notify) { n.Channels[2].SMTPAddr = "smtp.example.com" }, "notify.channels[2].smtp_addr"},
		{"no TLS to a remote server", func(n *config.Notify) { n.Channels[2].SMTPRequireTLS = &no }, "notify.channels[2].smtp_require_tls"},
		{"a username without password", func(n *config.Notify) {
			n.Channels[2].SMTPPassword, n.Channels[2].SMTPPasswordFile = "", ""
		}, "notify.channels[2].smtp_username"},
		{"a CA file missing", func(n *config.Notify) { n.Channels[2].SMTPCAFile = "/nonexistent/ca.pem" }, "notify.channels[2].smtp_ca_file"},
		{"from", func(n *config.Notify) { n.Channels[2].From = "gateway" }, "notify.channels[2].from"},
		{"no recipients", func(n *config.Notify) { n.Channels[2].To = nil }, "notify.channels[2].to"},
		{"a bad recipient", func(n *config.Notify) { n.Channels[2].To = []string{"a@example.com", "not an address"} }, "notify.channels[2].to"},
		{"no webhook url", func(n *config.Notify) { n.Channels[3].URL = "" }, "notify.channels[3].url"},
		{"a plain http webhook", func(n *config.Notify) { n.Channels[3].URL = "http://hooks.example.com/rgw" }, "notify.channels[3].url"},
		{"a short secret", func(n *config.Notify) { n.Channels[3].Secret = "short" }, "notify.channels[3].secret"},
		{"a secret file not read", func(n *config.Notify) { n.Channels[3].Secret = "" }, "notify.channels[3].secret_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := loadNotify(t)
			c.change(&n)
			err := n.Validate()
			if err == nil || !strings.Contains(err.Error(), c.setting+":") {
				t.Fatalf("Validate error %v, want one naming %s", err, c.setting)
			}
			for _, secret := range []string{"secretpath", "smtp-password", "xoxb-1-2-abc", strings.Repeat("s", 40)} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds a secret: %v", err)
				}
			}
		})
	}
}

// Loopback servers may go without TLS and http (development).
func TestNotifyValidateLoopback(t *testing.T) {
	no := false
	n := config.Notify{Channels: []config.NotifyChannel{
		{Name: "mail", Type: config.NotifyEmail, SMTPAddr: "127.0.0.1:1025", SMTPRequireTLS: &no, From: "gw@example.com",
			To: []string{"a@example.com"}},
		{Name: "hook", Type: config.NotifyWebhook, URL: "http://localhost:9000/hook", Secret: strings.Repeat("k", 32)},
		{Name: "slack", Type: config.NotifySlackWebhook, URL: "http://127.0.0.1:9001/services/x"},
	}}
	n.SetDefaults()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
}
