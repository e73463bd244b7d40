package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/notify/slacktest"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// slackChannels are a webhook and a bot channel on the fake Slack.
func slackChannels(s *slacktest.Server) []config.NotifyChannel {
	return []config.NotifyChannel{
		{Name: "slack-hook", Type: config.NotifySlackWebhook, URL: s.WebhookURL},
		{Name: "slack-bot", Type: config.NotifySlackBot, Token: s.Token, Channel: "#" + slacktest.DefaultChannel, APIURL: s.APIURL},
	}
}

// Both kinds of Slack channel post a message Slack accepts: the title, the
// facts escaped, and a button to the approval page.
func TestSlackMessages(t *testing.T) {
	t.Parallel()
	slack := slacktest.New(t)
	e := newEnv(t, notifyConfig(slackChannels(slack)...))
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 2)
	got := slack.Received()
	if len(got) != 2 || got[0].Endpoint != "webhook" || got[1].Endpoint != "chat.postMessage" {
		t.Fatalf("Slack got %+v (refused %v)", got, slack.Refused())
	}
	for _, m := range got {
		if m.Channel != slacktest.DefaultChannelID {
			t.Errorf("%s: posted to %q", m.Endpoint, m.Channel)
		}
		text := m.AllText()
		for _, want := range []string{"*Deploy of web on production needs approval*", "*Rack:* production",
			"*Commit:* 0123456789ab", "&lt;script&gt;", "&lt;!channel&gt;", "&lt;https://evil.example|click&gt;", "&amp; \"quotes\"",
			"approval.requested · 2026-05-06 07:08 UTC"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the message lacks %q:\n%s", m.Endpoint, want, text)
			}
		}
		for _, bad := range []string{"<script>", "<!channel>", "<https://evil"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: %q reached Slack unescaped", m.Endpoint, bad)
			}
		}
		b := m.Buttons()
		if len(b) != 1 || b[0].URL != "https://gateway.example.com/approvals/7" || b[0].Label() != "Review in Rack Gateway" {
			t.Errorf("%s: buttons %+v", m.Endpoint, b)
		}
		if m.Text != "Deploy of web on production needs approval" {
			t.Errorf("%s: fallback text %q", m.Endpoint, m.Text)
		}
	}
	if a := got[1].Header.Get("Authorization"); a != "Bearer "+slack.Token {
		t.Errorf("bot sent Authorization %q", a)
	}
	d := e.rec.details(t)
	if len(d) != 2 || d[0].Channel != "slack-hook" || d[0].HTTPStatus != 200 || d[1].Type != "slack-bot" {
		t.Errorf("audited %+v", d)
	}
	mustNotContain(t, "the audit", e.rec.texts(), slack.WebhookURL, strings.TrimPrefix(slack.WebhookURL, slack.URL), slack.Token)
	mustNotContain(t, "the logs", []string{e.logs.String()}, slack.WebhookURL, slack.Token)
}

// Many long facts are cut to what a section holds, and Slack takes it.
func TestSlackLongFacts(t *testing.T) {
	t.Parallel()
	slack := slacktest.New(t)
	e := newEnv(t, notifyConfig(slackChannels(slack)...))
	ev := sampleEvent()
	ev.Facts = nil
	for i := range 30 {
		ev.Facts = append(ev.Facts, Fact{fmt.Sprintf("Fact %d", i), strings.Repeat("<&>", 400)})
	}
	if err := e.pub.Publish(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 2)
	if got := slack.Received(); len(got) != 2 {
		t.Fatalf("Slack took %d messages, refused %v", len(got), slack.Refused())
	}
}

// A 429 is retried after Slack's Retry-After, then succeeds.
func TestSlackRateLimit(t *testing.T) {
	t.Parallel()
	for _, ch := range slackChannels(slacktest.New(t)) {
		t.Run(ch.Type, func(t *testing.T) {
			slack := slacktest.New(t)
			chans := slackChannels(slack)
			i := slices.IndexFunc(chans, func(c config.NotifyChannel) bool { return c.Type == ch.Type })
			e := newEnv(t, notifyConfig(chans[i]))
			slack.RateLimit(1, 7*time.Second)
			if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
				t.Fatal(err)
			}
			e.runOnce(t, 1)
			if j := e.job(t); !j.RunAt.Equal(t0.Add(7*time.Second)) || j.Attempts != 1 || !strings.HasPrefix(j.LastError, "HTTP 429") {
				t.Fatalf("after the 429: %+v", j)
			}
			e.clk.Advance(7*time.Second - time.Microsecond)
			e.runOnce(t, 0)
			e.clk.Advance(time.Microsecond)
			e.runOnce(t, 1)
			if j := e.job(t); j.State() != store.JobDone || j.Attempts != 2 {
				t.Fatalf("after the retry: %+v", j)
			}
			if len(slack.Received()) != 1 {
				t.Fatalf("Slack got %d messages", len(slack.Received()))
			}
			d := e.rec.details(t)
			if len(d) != 2 || d[0].HTTPStatus != 429 || d[0].NextAttempt != "2026-05-06T07:08:16Z" || d[1].HTTPStatus != 200 {
				t.Fatalf("audited %+v", d)
			}
		})
	}
}

// Slack's refusals are failures: the bot's arrive with HTTP 200 and
// "ok": false.
func TestSlackRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		channel func(s *slacktest.Server) config.NotifyChannel
		setup   func(s *slacktest.Server)
		status  int
		err     string
	}{
		{"bot: channel not found", func(s *slacktest.Server) config.NotifyChannel { return slackChannels(s)[1] },
			func(s *slacktest.Server) { s.FailNext("channel_not_found") }, 200, "slack: channel_not_found"},
		{"bot: an unknown channel", func(s *slacktest.Server) config.NotifyChannel {
			c := slackChannels(s)[1]
			c.Channel = "#nowhere"
			return c
		}, nil, 200, "slack: channel_not_found"},
		{"bot: a revoked token", func(s *slacktest.Server) config.NotifyChannel {
			c := slackChannels(s)[1]
			c.Token = "xoxb-revoked-0000"
			return c
		}, nil, 200, "slack: invalid_auth"},
		{"webhook: removed", func(s *slacktest.Server) config.NotifyChannel {
			c := slackChannels(s)[0]
			c.URL = s.URL + "/services/TRGWTEST/BRGWTEST/removedsecret"
			return c
		}, nil, 404, "HTTP 404: no_service"},
		{"webhook: archived channel", func(s *slacktest.Server) config.NotifyChannel { return slackChannels(s)[0] },
			func(s *slacktest.Server) { s.FailNext("channel_is_archived") }, 410, "HTTP 410: channel_is_archived"},
	} {
		t.Run(c.name, func(t *testing.T) {
			slack := slacktest.New(t)
			ch := c.channel(slack)
			e := newEnv(t, notifyConfig(ch))
			if c.setup != nil {
				c.setup(slack)
			}
			if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
				t.Fatal(err)
			}
			e.runOnce(t, 1)
			j := e.job(t)
			if j.State() != store.JobQueued || j.LastError != c.err || !j.RunAt.Equal(t0.Add(30*time.Second)) {
				t.Fatalf("job %+v, want retried with %q", j, c.err)
			}
			d := e.rec.details(t)
			if len(d) != 1 || d[0].HTTPStatus != c.status || d[0].Error != c.err || e.rec.all()[0].Decision != "deny" {
				t.Fatalf("audited %+v", d)
			}
			if len(slack.Received()) != 0 {
				t.Fatal("Slack took the message")
			}
			mustNotContain(t, "the audit", e.rec.texts(), ch.URL, "removedsecret", ch.Token)
			mustNotContain(t, "the logs", []string{e.logs.String()}, ch.URL, "removedsecret", ch.Token)
		})
	}
}

// When Slack cannot be reached, the error names no part of the webhook
// URL.
func TestSlackUnreachableRedactsURL(t *testing.T) {
	t.Parallel()
	slack := slacktest.New(t)
	ch := slackChannels(slack)[0]
	ch.URL = "http://127.0.0.1:1/services/T0SECRET/B0SECRET/verysecrettoken"
	e := newEnv(t, notifyConfig(ch))
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	j := e.job(t)
	if !strings.HasPrefix(j.LastError, "post: dial tcp 127.0.0.1:1") {
		t.Errorf("LastError %q", j.LastError)
	}
	texts := append(e.rec.texts(), e.logs.String(), j.LastError)
	mustNotContain(t, "the audit, logs and job", texts, "verysecrettoken", "T0SECRET", "/services/")
}
