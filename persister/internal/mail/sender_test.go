package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/persister/internal/erase"
	fdmail "github.com/frontdesk-chat/frontdesk/persister/internal/mail"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// received is one mail the SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
}

// smtpServer is a real SMTP server (go-smtp) on a loopback port. It refuses the first
// failFirst DATA commands with 451 (a transient failure) and keeps what it accepts.
type smtpServer struct {
	mu        sync.Mutex
	failFirst int
	got       []received
	addr      string
}

type smtpSession struct {
	s    *smtpServer
	from string
	to   []string
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}
func (x *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.failFirst > 0 {
		x.s.failFirst--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.s.got = append(x.s.got, received{from: x.from, to: x.to, data: b})
	return nil
}

func startSMTP(t *testing.T, failFirst int) *smtpServer {
	t.Helper()
	s := &smtpServer{failFirst: failFirst}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

func (s *smtpServer) mails() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// env is the record (a real Postgres), the tenants (a real NATS bucket) and a real SMTP server.
type env struct {
	st     *store.Store
	pool   *pgxpool.Pool
	smtp   *smtpServer
	sender *fdmail.Sender
	now    time.Time
}

func newEnv(t *testing.T, failFirst int, mailCfg *fd.Mail) *env {
	t.Helper()
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	srv := testkit.RunNATS(t)
	_, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	ten := &fd.Tenant{Id: "acme", Name: "Acme <Support>", AllowedOrigins: []string{"http://localhost:*"}, Mail: mailCfg}
	if err := tenants.Seed(ctx, kv, []*fd.Tenant{ten}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	ts, err := tenants.Watch(wctx, kv, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-ts.Done() })
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := ts.Get("acme"); !ok {
			return errors.New("tenant not seen yet")
		}
		return nil
	})
	e := &env{st: store.New(pool), pool: pool, smtp: startSMTP(t, failFirst), now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	relay := fdmail.Relay{Addr: e.smtp.addr, TLS: fdmail.TLSNone, Timeout: 10 * time.Second}
	e.sender = fdmail.NewSender(e.st, ts, relay, nil, func(string) string { return "" }, nil, testkit.Logger(t)).
		WithClock(func() time.Time { return e.now })
	return e
}

// seq numbers the rows the tests record; tests run in parallel, so it is atomic.
var seq atomic.Int64

// conversation records a closed conversation whose customer asked for the transcript: the
// events (with the request) and the messages, as the streams deliver them.
func (e *env) conversation(t *testing.T, conv, email string, closed bool) ([]store.EventRow, []store.MessageRow) {
	t.Helper()
	at := func(m int) *timestamppb.Timestamp {
		return timestamppb.New(e.now.Add(time.Duration(m-60) * time.Minute))
	}
	cust := &fd.Participant{Id: "u1", Role: "customer", Name: "Ann"}
	ev := func(typ, state string, m int) store.EventRow {
		n := seq.Add(1)
		return store.EventRow{Seq: n, Event: &fd.ConversationEvent{Id: fmt.Sprintf("%s.%s.%d", conv, typ, m), Tenant: "acme",
			Conv: conv, Type: typ, State: state, Customer: cust, At: at(m), Email: email}}
	}
	evs := []store.EventRow{ev("opened", "assigned", 0), ev("transcript_requested", "assigned", 5)}
	if closed {
		evs = append(evs, ev("closed", "closed", 10))
	}
	msg := func(from *fd.Participant, text string, m int) store.MessageRow {
		n := seq.Add(1)
		return store.MessageRow{Seq: n, Msg: &fd.Message{Id: fmt.Sprintf("m%d", n), Tenant: "acme", Conv: conv, From: from,
			Kind: "text", Text: text, CreatedAt: at(m)}}
	}
	msgs := []store.MessageRow{
		msg(cust, `<script>alert("x")</script> & <b>bold</b> <img src=x onerror=alert(1)>`, 1),
		msg(&fd.Participant{Id: "a1", Role: "agent", Name: "Bob"}, "Happy to help: 5 > 3 & café", 2),
		msg(&fd.Participant{Id: "system", Role: "system"}, "internal notice", 3),
	}
	return evs, msgs
}

func (e *env) write(t *testing.T, evs []store.EventRow, msgs []store.MessageRow) {
	t.Helper()
	if _, err := e.st.WriteMessages(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.WriteEvents(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
}

func (e *env) round(t *testing.T) {
	t.Helper()
	if err := e.sender.Round(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// parts reads the text and HTML parts of a delivered mail.
func parts(t *testing.T, data []byte) (*mail.Message, string, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	var text, html string
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		default:
			t.Fatalf("unexpected part %q", ct)
		}
	}
	return m, text, html
}

// A transcript asked for is mailed once the conversation closes: once, to the right address,
// with a text and an HTML part, the customer's markup shown as text, after the relay's
// transient refusal; replaying the events and more rounds send nothing more.
func TestTranscriptDeliveredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, &fd.Mail{Transcripts: true, From: "support@acme.test", FromName: "Acme Support"})
	evs, msgs := e.conversation(t, "c1", "Ann@Example.test", false)
	e.write(t, evs, msgs)
	e.round(t)
	if got := e.smtp.mails(); len(got) != 0 {
		t.Fatalf("sent before the close: %d", len(got))
	}
	closing, _ := e.conversation(t, "c1", "", true)
	e.write(t, closing[2:], nil)
	e.round(t) // refused with 451: waits for its retry
	if got := e.smtp.mails(); len(got) != 0 {
		t.Fatalf("delivered despite 451: %d", len(got))
	}
	e.round(t) // not due yet
	e.now = e.now.Add(fdmail.Backoff(1))
	e.round(t)
	// Replayed events, then more rounds later: nothing more.
	e.write(t, evs, msgs)
	for range 3 {
		e.now = e.now.Add(time.Hour)
		e.round(t)
	}
	got := e.smtp.mails()
	if len(got) != 1 {
		t.Fatalf("%d mails delivered, want 1", len(got))
	}
	if got[0].from != "support@acme.test" || len(got[0].to) != 1 || got[0].to[0] != "ann@example.test" {
		t.Fatalf("envelope from %q to %q", got[0].from, got[0].to)
	}
	m, text, html := parts(t, got[0].data)
	if m.Header.Get("To") != "<ann@example.test>" || !strings.Contains(m.Header.Get("From"), "support@acme.test") ||
		m.Header.Get("Message-Id") == "" {
		t.Errorf("headers %v", m.Header)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "Your conversation with Acme <Support>" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{`Ann: <script>alert("x")</script> & <b>bold</b>`, "Bob: Happy to help: 5 > 3 & café"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "internal notice") || strings.Contains(html, "internal notice") {
		t.Error("a system notice is in the transcript")
	}
	// Customer text is text: none of its markup is an element of the page.
	for _, bad := range []string{"<script", "<b>", "<img"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML part carries customer markup %q:\n%s", bad, html)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;",
		"&lt;img src=x onerror=alert(1)&gt;", "Acme &lt;Support&gt;", "5 &gt; 3 &amp; café"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, html)
		}
	}
	var status string
	var attempts int
	if err := e.pool.QueryRow(t.Context(), `SELECT status, attempts FROM transcript_mails WHERE conv = 'c1'`).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != store.MailSent || attempts != 2 {
		t.Errorf("status %s after %d attempts", status, attempts)
	}
}

// The tenant's limits hold: one transcript per address per day here, and a tenant that does
// not send transcripts sends none.
func TestTranscriptLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        *fd.Mail
		wantMails  int
		wantStatus []string
	}{
		{"one per recipient per day", &fd.Mail{Transcripts: true, From: "support@acme.test", PerRecipientPerDay: 1},
			1, []string{store.MailSent, store.MailLimited}},
		{"transcripts off", &fd.Mail{From: "support@acme.test"}, 0, []string{store.MailFailed, store.MailFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 0, tt.cfg)
			for _, conv := range []string{"c1", "c2"} {
				evs, msgs := e.conversation(t, conv, "ann@example.test", true)
				e.write(t, evs, msgs)
				e.round(t)
			}
			if got := e.smtp.mails(); len(got) != tt.wantMails {
				t.Fatalf("%d mails, want %d", len(got), tt.wantMails)
			}
			rows, err := e.pool.Query(t.Context(), `SELECT status FROM transcript_mails ORDER BY conv`)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				got = append(got, s)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantStatus, ",") {
				t.Errorf("statuses %v, want %v", got, tt.wantStatus)
			}
		})
	}
}

// A transcript asked for by a customer who is then erased is never sent: neither one waiting
// for its conversation to close or for its first round, nor one waiting to be retried after a
// transient refusal; and its row (the address) goes with the rest of the customer.
func TestTranscriptNotSentAfterErase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// failFirst is how many deliveries the relay refuses with 451.
		failFirst int
		// roundsBefore run before the erase.
		roundsBefore int
	}{
		{"waiting for its first round", 0, 0},
		{"waiting for a retry", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.failFirst, &fd.Mail{Transcripts: true, From: "support@acme.test"})
			evs, msgs := e.conversation(t, "c1", "ann@example.test", true)
			e.write(t, evs, msgs)
			for range tt.roundsBefore {
				e.round(t)
			}
			tables := append(slices.Clone(app.EraseTables), erase.PostgresTables...)
			if _, err := (erase.Postgres{Pool: e.pool, Tables: tables}).Erase(t.Context(),
				erase.Target{Tenant: "acme", User: "u1", Convs: []string{"c1"}}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				e.now = e.now.Add(time.Hour)
				e.round(t)
			}
			if got := e.smtp.mails(); len(got) != 0 {
				t.Errorf("%d transcripts sent after the erase", len(got))
			}
			var left int
			if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM transcript_mails`).Scan(&left); err != nil || left != 0 {
				t.Errorf("%d transcript requests left after the erase (%v)", left, err)
			}
		})
	}
}
