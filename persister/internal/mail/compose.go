// Package mail sends the transcripts customers ask for: composing the message (pure, in
// compose.go), the decisions about limits and retries (pure, decide.go), talking to the SMTP
// relay (relay.go) and the loop that takes due requests from the record (sender.go).
//
// It lives in the persister because the persister owns the record a transcript is made of,
// and the requests arrive with the events it already stores: a request is a row written in the
// same transaction as its event, so the mail needs no consumer of its own and is sent at most
// once whatever the redeliveries.
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// Line is one message of a transcript.
type Line struct {
	// Role is the sender's role (customer, agent, supervisor, bot), Name their display name.
	Role, Name string
	// Text is the message text; Attachment a file's name when the message is a file.
	Text, Attachment string
	At               time.Time
}

// Transcript is one mail to compose.
type Transcript struct {
	// From is the tenant's sender; FromName its display name.
	From, FromName string
	// To is the customer's address.
	To string
	// Tenant and Conv name the conversation (the Message-ID derives from them and To, so a
	// relay that sees the same mail twice can tell).
	Tenant, Conv string
	// Title is the tenant's name, shown in the subject and the heading.
	Title string
	// Zone is the time zone of the times shown (nil: UTC).
	Zone  *time.Location
	Lines []Line
	// Now is the Date header.
	Now time.Time
}

// MessageID is the transcript's Message-ID: the same for the same conversation and address.
func MessageID(tenant, conv, to, domain string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + conv + "\x00" + to))
	return "<transcript." + hex.EncodeToString(h[:12]) + "@" + domain + ">"
}

var htmlPage = template.Must(template.New("transcript").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif">
<h1 style="font-size:18px">{{.Title}}</h1>
<table cellpadding="4">
{{range .Lines}}<tr><td style="color:#666;white-space:nowrap">{{.When}}</td><td><strong>{{.Who}}</strong></td><td style="white-space:pre-wrap">{{.Text}}{{if .Attachment}} [{{.Attachment}}]{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

type htmlLine struct{ When, Who, Text, Attachment string }

// who is how a sender is named in a transcript.
func who(l Line) string {
	switch {
	case l.Name != "":
		return l.Name
	case l.Role == "customer":
		return "You"
	case l.Role == "bot":
		return "Assistant"
	}
	return "Agent"
}

// Compose writes the transcript as a MIME message: multipart/alternative with a text/plain
// and a text/html part, both quoted-printable UTF-8. Customer and agent text goes into the
// HTML through html/template, which escapes it: no markup of theirs is ever interpreted.
func Compose(t Transcript) ([]byte, error) {
	from, err := mail.ParseAddress(t.From)
	if err != nil {
		return nil, fmt.Errorf("sender %q: %w", t.From, err)
	}
	from.Name = t.FromName
	to, err := mail.ParseAddress(t.To)
	if err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	zone := t.Zone
	if zone == nil {
		zone = time.UTC
	}
	title := "Your conversation with " + t.Title
	var text strings.Builder
	text.WriteString(title + "\r\n\r\n")
	lines := make([]htmlLine, 0, len(t.Lines))
	for _, l := range t.Lines {
		when := l.At.In(zone).Format("2006-01-02 15:04")
		body := l.Text
		if l.Attachment != "" {
			body = strings.TrimSpace(body + " [" + l.Attachment + "]")
		}
		fmt.Fprintf(&text, "[%s] %s: %s\r\n", when, who(l), body)
		lines = append(lines, htmlLine{When: when, Who: who(l), Text: l.Text, Attachment: l.Attachment})
	}
	var page bytes.Buffer
	if err := htmlPage.Execute(&page, struct {
		Title string
		Lines []htmlLine
	}{title, lines}); err != nil {
		return nil, fmt.Errorf("render transcript: %w", err)
	}

	var msg bytes.Buffer
	mw := multipart.NewWriter(&msg)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	header := []string{
		"From: " + from.String(),
		"To: " + to.String(),
		// Subject is encoded as RFC 2047 (a tenant name may be anything).
		"Subject: " + mime.QEncoding.Encode("utf-8", title),
		"Date: " + t.Now.UTC().Format(time.RFC1123Z),
		"Message-ID: " + MessageID(t.Tenant, t.Conv, to.Address, domain),
		"Auto-Submitted: auto-generated",
		"MIME-Version: 1.0",
		"Content-Type: multipart/alternative; boundary=\"" + mw.Boundary() + "\"",
	}
	for _, h := range header {
		if strings.ContainsAny(h, "\r\n") {
			return nil, fmt.Errorf("header %q: line break", h)
		}
		msg.WriteString(h + "\r\n")
	}
	msg.WriteString("\r\n")
	for _, part := range []struct {
		typ  string
		body []byte
	}{{"text/plain; charset=utf-8", []byte(text.String())}, {"text/html; charset=utf-8", page.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.typ},
			"Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(part.body); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return msg.Bytes(), nil
}
