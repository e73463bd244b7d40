package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

const smtpPassword = "s3cret-smtp-pass"

func emailChannel(m *mailpit) config.NotifyChannel {
	return config.NotifyChannel{Name: "mail", Type: config.NotifyEmail, SMTPAddr: m.SMTPAddr, SMTPCAFile: m.CAFile,
		SMTPUsername: "rgw", SMTPPassword: smtpPassword, From: "Rack Gateway <gateway@example.com>",
		To: []string{"Ops Team <ops@example.com>", "jürgen@example.com"}}
}

// An email reaches a real SMTP server over STARTTLS with AUTH PLAIN: both
// parts, the headers, and every fact escaped in the HTML.
func TestEmailDelivery(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, mailpitOptions{tls: true, auth: "rgw:" + smtpPassword})
	e := newEnv(t, notifyConfig(emailChannel(mp)))
	ev := sampleEvent()
	ev.Title = "Déploiement de web en production: approbation requise"
	if err := e.pub.Publish(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	if j := e.job(t); j.State() != store.JobDone {
		t.Fatalf("job %+v", j)
	}
	msgs := mp.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived", len(msgs))
	}
	m := msgs[0]
	var p payload
	jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{})
	if d, err := decodePayload(jobs[0].Payload); err != nil {
		t.Fatal(err)
	} else {
		p = *d
	}
	if m.Username != "rgw" {
		t.Errorf("authenticated as %q", m.Username)
	}
	if m.Subject != ev.Title || m.From.Address != "gateway@example.com" || m.From.Name != "Rack Gateway" ||
		len(m.To) != 2 || m.To[0].Address != "ops@example.com" || m.To[0].Name != "Ops Team" || m.To[1].Address != "jürgen@example.com" {
		t.Errorf("headers as read: %+v", m)
	}
	if m.MessageID != p.Delivery+"@example.com" || !m.Date.Equal(t0) {
		t.Errorf("Message-ID %q, Date %v; want the delivery id and %v", m.MessageID, m.Date, t0)
	}
	for _, want := range []string{ev.Title, "Rack: production", "Commit: 0123456789ab", "Message: fix: the thing\n    " + hostile,
		"Review in Rack Gateway: https://gateway.example.com/approvals/7"} {
		if !strings.Contains(strings.ReplaceAll(m.Text, "\r\n", "\n"), want) {
			t.Errorf("the text part lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`href="https://gateway.example.com/approvals/7"`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"&lt;!channel&gt;", "&amp; &#34;quotes&#34; &#39;single&#39;", "<th", ">production</td>"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the HTML part lacks %q:\n%s", want, m.HTML)
		}
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<!channel>") {
		t.Errorf("hostile markup reached the HTML part:\n%s", m.HTML)
	}

	// The source, as sent: RFC 2047 subject, MIME structure, headers.
	raw := mp.raw(t, m.ID)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if s := h.Get("Subject"); !strings.HasPrefix(s, "=?utf-8?q?") {
		t.Errorf("Subject %q is not RFC 2047 encoded", s)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("X-Rack-Gateway-Event") != ApprovalRequested ||
		h.Get("MIME-Version") != "1.0" || h.Get("Date") != "Wed, 06 May 2026 07:08:09 +0000" {
		t.Errorf("headers %v", h)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, part.Header.Get("Content-Type")+" "+part.Header.Get("Content-Transfer-Encoding"))
	}
	if strings.Join(types, ", ") != "text/plain; charset=utf-8 quoted-printable, text/html; charset=utf-8 quoted-printable" {
		t.Errorf("parts %v", types)
	}
	d := e.rec.details(t)
	if len(d) != 1 || d[0].SMTPCode != 250 || d[0].Type != "email" || e.rec.all()[0].Decision != "allow" {
		t.Errorf("audited %+v", d)
	}
	mustNotContain(t, "the audit", e.rec.texts(), smtpPassword)
	mustNotContain(t, "the logs", []string{e.logs.String()}, smtpPassword)
}

// What the mail server refuses, and what the gateway refuses to do, fail
// the attempt, with the server's reply code audited and no password.
func TestEmailRefusals(t *testing.T) {
	t.Parallel()
	secure := startMailpit(t, mailpitOptions{tls: true, auth: "rgw:" + smtpPassword})
	plain := startMailpit(t, mailpitOptions{anyAuth: true, recipients: `@example\.com$`})
	no := false
	for _, c := range []struct {
		name    string
		channel func() config.NotifyChannel
		code    int
		err     string
	}{
		{"a wrong password", func() config.NotifyChannel {
			c := emailChannel(secure)
			c.SMTPPassword = "not-the-password"
			return c
		}, 535, "auth: 535"},
		{"an untrusted certificate", func() config.NotifyChannel {
			c := emailChannel(secure)
			c.SMTPCAFile = ""
			return c
		}, 0, "starttls: tls: failed to verify certificate"},
		{"no STARTTLS offered", func() config.NotifyChannel { return emailChannel(plain) }, 0, errNoSTARTTLS.Error()},
		{"no STARTTLS offered, no credentials", func() config.NotifyChannel {
			c := emailChannel(plain)
			c.SMTPUsername, c.SMTPPassword = "", ""
			return c
		}, 0, errNoSTARTTLS.Error()},
		{"a rejected recipient", func() config.NotifyChannel {
			c := emailChannel(plain)
			c.SMTPRequireTLS = &no
			c.To = []string{"ops@example.com", "someone@elsewhere.test"}
			return c
		}, 550, "rcpt to: 550"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := c.channel()
			e := newEnv(t, notifyConfig(ch))
			before := len(secure.messages(t)) + len(plain.messages(t))
			if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
				t.Fatal(err)
			}
			e.runOnce(t, 1)
			j := e.job(t)
			if j.State() != store.JobQueued || !strings.HasPrefix(j.LastError, c.err) {
				t.Fatalf("job %+v, want retried with %q", j, c.err)
			}
			d := e.rec.details(t)
			if len(d) != 1 || (c.code != 0 && d[0].SMTPCode != c.code) || e.rec.all()[0].Decision != "deny" {
				t.Fatalf("audited %+v", d)
			}
			if after := len(secure.messages(t)) + len(plain.messages(t)); after != before {
				t.Fatal("a message arrived")
			}
			mustNotContain(t, "the audit", e.rec.texts(), ch.SMTPPassword, smtpPassword)
			mustNotContain(t, "the logs", []string{e.logs.String(), j.LastError}, ch.SMTPPassword, smtpPassword)
		})
	}
}

// A loopback relay without TLS takes mail when the channel says so (for
// development), credentials included: only loopback may.
func TestEmailLoopbackWithoutTLS(t *testing.T) {
	t.Parallel()
	plain := startMailpit(t, mailpitOptions{anyAuth: true})
	no := false
	ch := emailChannel(plain)
	ch.SMTPRequireTLS = &no
	e := newEnv(t, notifyConfig(ch))
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	if msgs := plain.messages(t); len(msgs) != 1 || msgs[0].Username != "rgw" {
		t.Fatalf("arrived %+v", msgs)
	}
	ch.SMTPAddr = "smtp.example.com:25"
	cfg := notifyConfig(ch)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "smtp_require_tls") {
		t.Fatalf("a remote server without TLS validated: %v", err)
	}
}

// The message as built: the subject encoded when it must be, every line
// ending in CRLF, no header broken by event text.
func TestEmailMessage(t *testing.T) {
	t.Parallel()
	from, _ := mail.ParseAddress("Rack Gateway <gw@example.com>")
	to, _ := mail.ParseAddress("ops@example.com")
	for _, c := range []struct{ title, subject string }{
		{"Deploy approved", "Deploy approved"},
		{"Déploiement approuvé", "=?utf-8?q?D=C3=A9ploiement_approuv=C3=A9?="},
		{"Injected\r\nBcc: victim@example.com", "=?utf-8?q?Injected=0D=0ABcc:_victim@example.com?="},
	} {
		ev := sampleEvent()
		ev.Title = c.title
		b, err := emailMessage(&ev, "00112233445566778899aabbccddeeff", t0, from, []*mail.Address{to})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Subject"); got != c.subject {
			t.Errorf("Subject of %q = %q, want %q", c.title, got, c.subject)
		}
		if msg.Header.Get("Bcc") != "" {
			t.Errorf("a Bcc header was injected")
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\r\n", ""), "\n") {
			t.Errorf("a line ends without CR")
		}
		if got := msg.Header.Get("Message-Id"); got != "<00112233445566778899aabbccddeeff@example.com>" {
			t.Errorf("Message-ID %q", got)
		}
	}
	// A link that is not http(s) is dropped when the event is published
	// (and read back from a job); the HTML template would not make it a
	// live href anyway.
	ev := sampleEvent()
	ev.Link = "javascript:alert(1)"
	b, _ := emailMessage(&ev, "00112233445566778899aabbccddeeff", time.Now(), from, []*mail.Address{to})
	if !strings.Contains(string(b), `href=3D"#ZgotmplZ"`) {
		t.Errorf("a javascript: link became an href:\n%s", b)
	}
	if err := ev.normalize(t0); err != nil || ev.Link != "" {
		t.Errorf("normalize kept the link %q (%v)", ev.Link, err)
	}
}
