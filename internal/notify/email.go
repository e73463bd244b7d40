package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// email sends over SMTP: EHLO, STARTTLS (required unless the channel
// allows otherwise, which only a loopback server may), AUTH PLAIN when a
// username is set — never in the clear but to a loopback server — then
// one message to all recipients.
type email struct {
	addr, host string
	requireTLS bool
	roots      *x509.CertPool // nil: the system roots
	username   string
	password   string
	from       *mail.Address
	to         []*mail.Address
	helo       string
}

// newEmail builds the sender of a validated email channel, reading its CA
// file. helo is the name this host gives in EHLO.
func newEmail(c *config.NotifyChannel, helo string) (*email, error) {
	host, _, err := net.SplitHostPort(c.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("notify: channel %s: smtp_addr: %w", c.Name, err)
	}
	e := &email{addr: c.SMTPAddr, host: host, requireTLS: c.RequireTLS(), username: c.SMTPUsername,
		password: c.SMTPPassword, helo: helo}
	if c.SMTPCAFile != "" {
		pem, err := os.ReadFile(c.SMTPCAFile)
		if err != nil {
			return nil, fmt.Errorf("notify: channel %s: smtp_ca_file: %w", c.Name, err)
		}
		e.roots = x509.NewCertPool()
		if !e.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify: channel %s: smtp_ca_file %s holds no PEM certificate", c.Name, c.SMTPCAFile)
		}
	}
	if e.from, err = mail.ParseAddress(c.From); err != nil {
		return nil, fmt.Errorf("notify: channel %s: from: %w", c.Name, err)
	}
	for _, s := range c.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("notify: channel %s: to: %w", c.Name, err)
		}
		e.to = append(e.to, a)
	}
	return e, nil
}

// errNoSTARTTLS: the server does not offer STARTTLS and the channel
// requires it.
var errNoSTARTTLS = errors.New("the mail server does not offer STARTTLS, which this channel requires")

// send implements sender. The outcome's SMTPCode is the server's reply to
// the step that failed, or 250 when the message was accepted.
func (e *email) send(ctx context.Context, d *delivery) outcome {
	msg, err := emailMessage(&d.Event, d.ID, d.Now, e.from, e.to)
	if err != nil {
		return outcome{Err: err}
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return outcome{Err: err}
	}
	// The context bounds the whole conversation.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		conn.Close()
		return smtpOutcome(err)
	}
	defer c.Close()
	if err := e.converse(c, msg); err != nil {
		return smtpOutcome(err)
	}
	return outcome{SMTPCode: 250}
}

func (e *email) converse(c *smtp.Client, msg []byte) error {
	if err := c.Hello(e.helo); err != nil {
		return err
	}
	secure := false
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: e.host, RootCAs: e.roots, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
		secure = true
	} else if e.requireTLS {
		return errNoSTARTTLS
	}
	if e.username != "" {
		if !secure && !config.IsLoopbackHost(e.host) {
			// Validation allows no such channel; refuse all the same.
			return errors.New("refusing to send SMTP credentials without TLS")
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the mail server does not offer AUTH")
		}
		// net/smtp's PLAIN also refuses an unencrypted connection to a
		// host that is not localhost.
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, e.host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, a := range e.to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("rcpt to: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The server took the message: a failed QUIT must not send it again.
	_ = c.Quit()
	return nil
}

// smtpOutcome is a failed conversation, with the server's reply code if it
// gave one.
func smtpOutcome(err error) outcome {
	o := outcome{Err: err}
	var te *textproto.Error
	if errors.As(err, &te) {
		o.SMTPCode = te.Code
	}
	return o
}
