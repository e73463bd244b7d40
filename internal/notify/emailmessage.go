package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// emailHTML is the HTML part. html/template escapes every value for where
// it stands (text, attribute, URL), so an event's text cannot add markup,
// and a link that is not http(s) becomes "#ZgotmplZ".
var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1f2328;">
<h2 style="font-size: 18px;">{{.Title}}</h2>
{{if .Facts}}<table style="border-collapse: collapse;">
{{range .Facts}}<tr>
<th style="text-align: left; vertical-align: top; padding: 2px 12px 2px 0;">{{.Name}}</th>
<td style="padding: 2px 0; white-space: pre-wrap;">{{.Value}}</td>
</tr>
{{end}}</table>{{end}}
{{if .Link}}<p><a href="{{.Link}}"
 style="display: inline-block; padding: 8px 14px; background: #1f6feb; color: #ffffff; text-decoration: none; border-radius: 6px;"
>{{.Button}}</a></p>{{end}}
<p style="color: #656d76; font-size: 12px;">Rack Gateway · {{.Kind}} · {{.When}}</p>
</body></html>
`))

// emailMessage renders ev as an RFC 5322 message: multipart/alternative
// with a plain-text and an HTML part, both quoted-printable UTF-8. The
// Message-ID is derived from the delivery id, so that a message sent
// twice (an attempt whose answer was lost) is recognisably one.
func emailMessage(ev *Event, deliveryID string, now time.Time, from *mail.Address, to []*mail.Address) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	recipients := make([]string, len(to))
	for i, a := range to {
		recipients[i] = a.String()
	}
	h := []struct{ k, v string }{
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + deliveryID + "@" + domain + ">"},
		{"From", from.String()},
		{"To", strings.Join(recipients, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", ev.Title)},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
		// RFC 3834: no auto-replies (out of office) to a notification.
		{"Auto-Submitted", "auto-generated"},
		{"X-Rack-Gateway-Event", ev.Kind},
	}
	var head bytes.Buffer
	for _, f := range h {
		if strings.ContainsAny(f.v, "\r\n") {
			return nil, fmt.Errorf("email header %s holds a line break", f.k)
		}
		head.WriteString(f.k + ": " + f.v + "\r\n")
	}
	head.WriteString("\r\n")

	var plain strings.Builder
	plain.WriteString(ev.Title + "\n\n")
	for _, f := range ev.Facts {
		// Continuation lines of a value are indented under it.
		plain.WriteString(f.Name + ": " + strings.ReplaceAll(f.Value, "\n", "\n    ") + "\n")
	}
	if ev.Link != "" {
		plain.WriteString("\n" + button(ev) + ": " + ev.Link + "\n")
	}
	plain.WriteString("\n-- \nRack Gateway · " + ev.Kind + " · " + when(ev.Time) + "\n")

	var html bytes.Buffer
	if err := emailHTML.Execute(&html, struct {
		*Event
		Button, When string
	}{ev, button(ev), when(ev.Time)}); err != nil {
		return nil, err
	}
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain; charset=utf-8", crlf(plain.String())}, {"text/html; charset=utf-8", crlf(html.String())}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := qw.Write(part.body); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return append(head.Bytes(), buf.Bytes()...), nil
}

// button is the label of the link to the gateway.
func button(ev *Event) string {
	if ev.Kind == ApprovalRequested {
		return "Review in Rack Gateway"
	}
	return "Open in Rack Gateway"
}

// crlf ends every line with CRLF, as SMTP wants.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}
