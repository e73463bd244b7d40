package notify

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Every kind has its constant, and the configuration knows them all.
func TestKinds(t *testing.T) {
	t.Parallel()
	consts := []string{ApprovalRequested, ApprovalApproved, ApprovalRejected, ApprovalExpired, ApprovalDeployed,
		MFALocked, MFAMethodRemoved, UserRoleChanged}
	if !slices.Equal(Kinds(), consts) {
		t.Fatalf("config.NotifyEvents %v, the constants %v", Kinds(), consts)
	}
}

// Publish enqueues one job per channel whose patterns match, with the
// event and a delivery id but never a channel's secret, and wakes the
// worker.
func TestPublish(t *testing.T) {
	t.Parallel()
	channels := []config.NotifyChannel{
		{Name: "all", Type: config.NotifyWebhook, URL: "https://hooks.example.com/all?token=tok-all-secret", Secret: hookSecret},
		{Name: "approvals", Type: config.NotifySlackWebhook, Events: []string{"approval.*"},
			URL: "https://hooks.slack.com/services/T0/B0/slack-hook-secret"},
		{Name: "security", Type: config.NotifySlackBot, Events: []string{"mfa.*", "user.role_changed"},
			Token: "xoxb-bot-token-secret", Channel: "C1"},
		{Name: "deployed", Type: config.NotifyEmail, Events: []string{"approval.deployed"}, SMTPAddr: "smtp.example.com:587",
			SMTPUsername: "u", SMTPPassword: "smtp-password-secret", From: "gw@example.com", To: []string{"a@example.com"}},
	}
	cfg := notifyConfig(channels...)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cfg)
	woken := 0
	e.pub.wake = func() { woken++ }
	for _, c := range []struct {
		kind string
		want []string
	}{
		{ApprovalRequested, []string{"all", "approvals"}},
		{ApprovalDeployed, []string{"all", "approvals", "deployed"}},
		{MFALocked, []string{"all", "security"}},
		{UserRoleChanged, []string{"all", "security"}},
	} {
		t.Run(c.kind, func(t *testing.T) {
			ev := sampleEvent()
			ev.Kind = c.kind
			if err := e.pub.Publish(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
			jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{Event: c.kind, Limit: len(c.want) + 1})
			var got []string
			ids := map[string]bool{}
			for _, j := range slices.Backward(jobs) {
				got = append(got, j.Channel)
				p, err := decodePayload(j.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if p.Channel != j.Channel || p.Event.Kind != c.kind || p.Event.Title != ev.Title || !p.Event.Time.Equal(t0) ||
					len(p.Event.Facts) != len(ev.Facts) || ids[p.Delivery] {
					t.Errorf("payload %+v", p)
				}
				ids[p.Delivery] = true
				for _, secret := range []string{"tok-all-secret", "slack-hook-secret", "xoxb-bot", "smtp-password", hookSecret, "hooks."} {
					if bytes.Contains(j.Payload, []byte(secret)) {
						t.Errorf("the payload of %s holds %q: %s", j.Channel, secret, j.Payload)
					}
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("enqueued for %v, want %v", got, c.want)
			}
		})
	}
	if woken != 4 {
		t.Errorf("woken %d times, want 4", woken)
	}
}

func TestPublishRefusesBadEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, notifyConfig(config.NotifyChannel{Name: "all", Type: config.NotifyWebhook,
		URL: "https://hooks.example.com/", Secret: hookSecret}))
	for _, ev := range []Event{
		{Kind: "approval.bogus", Title: "x"},
		{Kind: "", Title: "x"},
		{Kind: ApprovalRequested, Title: " \n\t "},
	} {
		if err := e.pub.Publish(t.Context(), ev); err == nil {
			t.Errorf("published %+v", ev)
		}
	}
	if jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{}); len(jobs) != 0 {
		t.Fatalf("enqueued %d jobs", len(jobs))
	}
}

// Published events are made safe to show: one-line titles, no control or
// bidirectional formatting characters, cut lengths, only http(s) links.
func TestEventNormalize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2000)
	ev := Event{Kind: ApprovalRequested, Title: "Deploy\r\nBcc: x@example.com \u202egnp.exe",
		Time:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)),
		Facts: []Fact{{"Message", "line 1\r\nline\x00 2\x1b[31m\n\n"}, {"Empty", " "}, {"", "no name"}, {"Long", long}},
		Link:  "javascript:alert(1)", Rack: "prod\nuction", Actor: "a\u2066b"}
	if err := ev.normalize(t0); err != nil {
		t.Fatal(err)
	}
	if ev.Title != "Deploy Bcc: x@example.com gnp.exe" {
		t.Errorf("Title %q", ev.Title)
	}
	if ev.Time.Location() != time.UTC || !ev.Time.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) {
		t.Errorf("Time %v", ev.Time)
	}
	if len(ev.Facts) != 2 || ev.Facts[0].Value != "line 1\nline 2 [31m" || len([]rune(ev.Facts[1].Value)) != maxFactValue ||
		!strings.HasSuffix(ev.Facts[1].Value, "…") {
		t.Errorf("Facts %q", ev.Facts)
	}
	if ev.Link != "" || ev.Rack != "prod uction" || ev.Actor != "a b" {
		t.Errorf("Link %q, Rack %q, Actor %q", ev.Link, ev.Rack, ev.Actor)
	}
	ev = Event{Kind: MFALocked, Title: "x"}
	if err := ev.normalize(t0); err != nil || !ev.Time.Equal(t0) {
		t.Errorf("a zero time became %v (%v)", ev.Time, err)
	}
}

// The deploy approval service's notifier publishes its events with the
// request's facts.
func TestApprovalNotifier(t *testing.T) {
	t.Parallel()
	e := newEnv(t, notifyConfig(config.NotifyChannel{Name: "all", Type: config.NotifyWebhook,
		URL: "https://hooks.example.com/", Secret: hookSecret}))
	d := &store.DeployRequest{ID: 7, Rack: "production", App: "web", Commit: "0123456789abcdef0123456789abcdef01234567",
		Branch: "main", PRURL: "https://github.com/o/r/pull/7", Message: "fix <b>it</b>", CIURL: "https://ci.example.com/1",
		Requester: "token ci of ci@example.com", Needed: 2, ExpiresAt: t0.Add(24 * time.Hour), Status: store.DeployApproved,
		Approvals:    []store.DeployApproval{{Email: "alice@example.com"}, {Email: "bob@example.com"}},
		WindowEndsAt: t0.Add(15 * time.Minute), Comment: "not now"}
	for _, c := range []struct {
		kind, title string
		facts       []string
	}{
		{ApprovalRequested, "Deploy of web on production needs approval", []string{"Approvals needed=2", "Expires=2026-05-07 07:08 UTC"}},
		{ApprovalApproved, "Deploy of web on production approved", []string{"Approved by=alice@example.com, bob@example.com",
			"Window ends=2026-05-06 07:23 UTC"}},
		{ApprovalRejected, "Deploy of web on production rejected", []string{"Rejected by=carol@example.com", "Comment=not now"}},
		{ApprovalExpired, "Deploy approval for web on production expired", nil},
		{ApprovalDeployed, "Deployed web on production", []string{"Approved by=alice@example.com, bob@example.com"}},
	} {
		e.pub.Notify(t.Context(), c.kind, d, "carol@example.com", "https://gw.example.com/approvals/7")
		jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{Event: c.kind})
		if len(jobs) != 1 {
			t.Fatalf("%s: %d jobs", c.kind, len(jobs))
		}
		p, err := decodePayload(jobs[0].Payload)
		if err != nil {
			t.Fatal(err)
		}
		ev := p.Event
		var facts []string
		for _, f := range ev.Facts {
			facts = append(facts, f.Name+"="+f.Value)
		}
		want := append([]string{"Rack=production", "App=web", "Commit=0123456789ab", "Branch=main", "Message=fix <b>it</b>",
			"Requested by=token ci of ci@example.com", "Pull request=https://github.com/o/r/pull/7", "CI run=https://ci.example.com/1"},
			c.facts...)
		if ev.Title != c.title || !slices.Equal(facts, want) || ev.Link != "https://gw.example.com/approvals/7" ||
			ev.Actor != "carol@example.com" || ev.Rack != "production" || ev.App != "web" {
			t.Errorf("%s: %q %q, want %q %q", c.kind, ev.Title, facts, c.title, want)
		}
	}
}
