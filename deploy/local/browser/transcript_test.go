package browser_test

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// mailbox is a real SMTP server (go-smtp) on a loopback port, keeping what it receives.
type mailbox struct {
	mu   sync.Mutex
	got  []inMail
	addr string
}

type inMail struct {
	to   []string
	data string
}

type mailboxSession struct {
	m  *mailbox
	to []string
}

func (s *mailboxSession) Reset()                               { s.to = nil }
func (s *mailboxSession) Logout() error                        { return nil }
func (s *mailboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.got = append(s.m.got, inMail{to: s.to, data: string(b)})
	return nil
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	m := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{m: m}, nil }))
	srv.Domain = "relay.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return m
}

func (m *mailbox) mails() []inMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]inMail(nil), m.got...)
}

// htmlPart returns the decoded HTML part of a multipart/alternative mail.
func htmlPart(t *testing.T, data string) (subject, text, html string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			html = string(b)
		} else {
			text = string(b)
		}
	}
	return subject, text, html
}

// TestTranscriptByEmail: a customer asks in the widget for the conversation by email; when the
// agent closes it, the persister mails it through a real SMTP server: once, to the address
// given, the customer's markup shown as text.
func TestTranscriptByEmail(t *testing.T) {
	box := startMailbox(t)
	ten := featureTenant("mailer")
	ten.Mail = &fd.Mail{Transcripts: true, From: "support@mailer.test", FromName: "Mailer Support"}
	sys := startSystemWith(t, options{mailRelay: box.addr}, ten)
	b := newBrowser(t)

	kim := b.tab(t, "agent-kim", true)
	openConsole(kim, sys.URL, tokenFor(t, "mailer", "a_kim", "Kim Agent"))
	setAvailable(kim, true)

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>Shop</title><h1>A shop</h1>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="mailer" data-gateway="` + sys.URL + `" data-lang="en" data-transcripts async></script>`))
	}))
	t.Cleanup(site.Close)
	cust := b.tab(t, "customer", true)
	openWidget(cust, site.URL+"/")
	if !eval[bool](cust, w+`.querySelector('.fd-transcript-chip').hidden`) {
		t.Fatal("the transcript chip shows before there is a conversation")
	}
	say(cust, `<b>Where</b> is my <img src=x onerror=alert(1)> order?`)
	kim.waitJS("conversation", `document.querySelectorAll('.conv-list li .conv').length === 1`)
	kim.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "It ships today.\r"))
	waitWidgetMessage(cust, "It ships today.")

	cust.do("ask for the transcript", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-transcript-chip')`)))
	cust.do("type the address", chromedp.SendKeys(chromedp.JSPath(w+`.querySelector('.fd-transcript .fd-email')`), "una@example.test\r"))
	cust.waitJS("queued", w+`.querySelector('.fd-transcript-status').textContent.includes('una@example.test')`)

	kim.do("close", chromedp.Click(chromedp.CSS(".conv-actions .danger")))
	kim.waitJS("asks to confirm", `document.querySelector('.conv-actions .danger.confirming')`)
	kim.do("confirm close", chromedp.Click(chromedp.CSS(".conv-actions .danger.confirming")))

	testkit.CheckFor(t, waitFor, 100*time.Millisecond, func() error {
		if n := len(box.mails()); n == 0 {
			return errors.New("no mail yet")
		}
		return nil
	})
	got := box.mails()
	if len(got) != 1 || len(got[0].to) != 1 || got[0].to[0] != "una@example.test" {
		t.Fatalf("mails %+v", got)
	}
	subject, text, html := htmlPart(t, got[0].data)
	if subject != "Your conversation with mailer" || !strings.Contains(text, "It ships today.") ||
		!strings.Contains(text, "<b>Where</b> is my <img src=x onerror=alert(1)> order?") {
		t.Fatalf("subject %q, text %q", subject, text)
	}
	if strings.Contains(html, "<b>") || strings.Contains(html, "<img") || !strings.Contains(html, "&lt;b&gt;Where&lt;/b&gt;") {
		t.Fatalf("html %q", html)
	}
	checkNoPageErrors(t, kim, cust)
}
