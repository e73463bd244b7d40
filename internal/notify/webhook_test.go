package notify

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

const hookSecret = "0123456789abcdef0123456789abcdef-hook"

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	secret := []byte(hookSecret)
	body := []byte(`{"kind":"approval.requested"}`)
	now := time.Unix(1767225600, 0)
	good := Sign(secret, now, body)
	other := Sign([]byte("another secret of enough length......"), now, body)
	v1 := good[strings.Index(good, "v1="):]
	for _, c := range []struct {
		name, header string
		body         []byte
		at           time.Time
		tolerance    time.Duration
		want         error
	}{
		{"genuine", good, body, now, 0, nil},
		{"a little later", good, body, now.Add(4 * time.Minute), 0, nil},
		{"the receiver's clock a little behind", good, body, now.Add(-4 * time.Minute), 0, nil},
		{"two signatures, one good (secret rotation)", other + "," + v1, body, now, 0, nil},
		{"an unknown scheme beside", good + ",v0=abc", body, now, 0, nil},
		{"spaces after commas", strings.ReplaceAll(good, ",", ", "), body, now, 0, nil},
		{"a tampered body", good, []byte(`{"kind":"approval.approved"}`), now, 0, ErrWebhookSignature},
		{"a body with a byte added", good, append(append([]byte{}, body...), ' '), now, 0, ErrWebhookSignature},
		{"another secret", other, body, now, 0, ErrWebhookSignature},
		{"too old", good, body, now.Add(6 * time.Minute), 0, ErrWebhookTimestamp},
		{"too old for a tight tolerance", good, body, now.Add(31 * time.Second), 30 * time.Second, ErrWebhookTimestamp},
		{"from the future", good, body, now.Add(-6 * time.Minute), 0, ErrWebhookTimestamp},
		{"a replayed signature with a new timestamp", "t=1767225900," + v1, body, now.Add(5 * time.Minute), 0, ErrWebhookSignature},
		{"empty", "", body, now, 0, ErrWebhookHeader},
		{"no signature", "t=1767225600", body, now, 0, ErrWebhookHeader},
		{"no timestamp", v1, body, now, 0, ErrWebhookHeader},
		{"two timestamps", "t=1767225600,t=1767225600," + v1, body, now, 0, ErrWebhookHeader},
		{"a timestamp that is no number", "t=soon," + v1, body, now, 0, ErrWebhookHeader},
		{"a signature that is not hex", "t=1767225600,v1=zz", body, now, 0, ErrWebhookHeader},
		{"a short signature", "t=1767225600,v1=abcd", body, now, 0, ErrWebhookHeader},
		{"a part without =", good + ",junk", body, now, 0, ErrWebhookHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyWebhook(secret, c.header, c.body, c.at, c.tolerance)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("VerifyWebhook = %v, want %v", err, c.want)
			}
		})
	}
}

// A delivery reaches a receiver on loopback that verifies it as the
// documentation says; each retry is signed anew and carries the same
// delivery id.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	var verified []error
	rcv := newReceiver(t, http.StatusInternalServerError)
	cfg := notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL + "/rgw?token=abc123secret",
		Secret: hookSecret})
	e := newEnv(t, cfg)
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	e.clk.Advance(30 * time.Second)
	e.runOnce(t, 1)
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		verified = append(verified, VerifyWebhook([]byte(hookSecret), r.header.Get(HeaderSignature), r.body, at, 0))
		if !strings.HasPrefix(r.header.Get(HeaderSignature), "t="+itoa(at.Unix())+",v1=") {
			t.Errorf("attempt %d signed %q, want at %v", i+1, r.header.Get(HeaderSignature), at)
		}
		if r.header.Get(HeaderEvent) != ApprovalRequested || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("headers %v", r.header)
		}
		if VerifyWebhook([]byte("the wrong secret, long enough ....."), r.header.Get(HeaderSignature), r.body, at, 0) == nil {
			t.Error("verified with the wrong secret")
		}
	}
	for i, err := range verified {
		if err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, err)
		}
	}
	if d := reqs[0].header.Get(HeaderDelivery); !deliveryID.MatchString(d) || reqs[1].header.Get(HeaderDelivery) != d {
		t.Errorf("delivery ids %q and %q, want one id for both attempts", d, reqs[1].header.Get(HeaderDelivery))
	}
	var got Event
	if err := json.Unmarshal(reqs[1].body, &got); err != nil {
		t.Fatal(err)
	}
	want := sampleEvent()
	if got.Kind != want.Kind || got.Title != want.Title || got.Link != want.Link || len(got.Facts) != len(want.Facts) ||
		got.Facts[3].Value != want.Facts[3].Value || !got.Time.Equal(t0) || got.Rack != "production" {
		t.Errorf("received event %+v", got)
	}
	if j := e.job(t); j.State() != "done" || j.Attempts != 2 {
		t.Errorf("job %+v", j)
	}
	d := e.rec.details(t)
	if len(d) != 2 || d[0].HTTPStatus != 500 || d[0].Error != "HTTP 500" || d[1].HTTPStatus != 200 || d[1].Attempt != 2 {
		t.Errorf("audited %+v", d)
	}
	// The receiver URL's token is a secret too.
	mustNotContain(t, "the audit", e.rec.texts(), "abc123secret", hookSecret)
	mustNotContain(t, "the logs", []string{e.logs.String()}, "abc123secret", hookSecret)
}

// A redirect is not followed: the signed body goes only where configured.
func TestWebhookRedirectIsAFailure(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, http.StatusFound)
	e := newEnv(t, notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret}))
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	if d := e.rec.details(t); len(d) != 1 || d[0].HTTPStatus != http.StatusFound || d[0].Error != "HTTP 302" {
		t.Fatalf("audited %+v", d)
	}
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("%d requests: the redirect was followed", n)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
