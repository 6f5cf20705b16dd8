package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Store is the part of the record the sender uses.
type Store interface {
	ClaimTranscripts(ctx context.Context, now time.Time, limit int) ([]store.TranscriptJob, error)
	FinishTranscript(ctx context.Context, j store.TranscriptJob, status string, retryAt time.Time, reason string) error
	Transcript(ctx context.Context, tenant, conv string) ([]store.TranscriptLine, error)
}

// Tenants gives a tenant's settings.
type Tenants interface {
	Get(id string) (*fd.Tenant, bool)
}

// Sender takes due transcript requests from the record and mails them, one at a time.
type Sender struct {
	st      Store
	tenants Tenants
	relay   Relay
	tls     *tls.Config
	getenv  func(string) string
	log     *zap.Logger
	sent    *prometheus.CounterVec
	now     func() time.Time
}

// NewSender returns a sender through relay (with defaults filled in). tlsConf may be nil.
func NewSender(st Store, tenants Tenants, relay Relay, tlsConf *tls.Config, getenv func(string) string,
	reg prometheus.Registerer, log *zap.Logger) *Sender {
	s := &Sender{st: st, tenants: tenants, relay: relay.WithDefaults(), tls: tlsConf, getenv: getenv, log: log, now: time.Now,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_persister_transcript_mails_total",
			Help: "Transcript mails by result: sent, retry, failed, limited, off."}, []string{"result"})}
	if reg != nil {
		reg.MustRegister(s.sent)
	}
	return s
}

// WithClock makes the sender read the time from now (tests move it past a retry's backoff).
func (s *Sender) WithClock(now func() time.Time) *Sender {
	s.now = now
	return s
}

// batch is how many requests one round takes.
const batch = 20

// Run sends due transcripts every poll interval until ctx ends; a mail being sent when ctx
// ends is finished first (within the relay timeout).
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.relay.Poll)
	defer t.Stop()
	for {
		if err := s.Round(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("transcript mails", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round sends what is due now.
func (s *Sender) Round(ctx context.Context) error {
	jobs, err := s.st.ClaimTranscripts(ctx, s.now(), batch)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range jobs {
		status, retryAt, reason := s.one(ctx, j)
		s.sent.WithLabelValues(map[string]string{store.MailSent: "sent", store.MailWaiting: "retry", store.MailFailed: "failed",
			store.MailLimited: "limited"}[status]).Inc()
		if err := s.st.FinishTranscript(ctx, j, status, retryAt, reason); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// one makes one attempt and says how it ended.
func (s *Sender) one(ctx context.Context, j store.TranscriptJob) (status string, retryAt time.Time, reason string) {
	ten, ok := s.tenants.Get(j.Tenant)
	if !ok {
		return store.MailFailed, time.Time{}, "unknown tenant"
	}
	switch Admit(ten.GetMail(), j.TenantLastHour, j.RecipientLastDay) {
	case Off:
		return store.MailFailed, time.Time{}, "transcripts off"
	case Limited:
		s.log.Info("transcript over the limits", zap.String("tenant", j.Tenant), zap.String("conv", j.Conv))
		return store.MailLimited, time.Time{}, "over the limits"
	}
	err := s.deliver(ctx, ten, j)
	switch {
	case err == nil:
		s.log.Info("transcript sent", zap.String("tenant", j.Tenant), zap.String("conv", j.Conv))
		return store.MailSent, time.Time{}, ""
	case Transient(err) && j.Attempts < s.relay.MaxAttempts:
		s.log.Warn("transcript not sent, will retry", zap.String("conv", j.Conv), zap.Int("attempt", j.Attempts), zap.Error(err))
		return store.MailWaiting, s.now().Add(Backoff(j.Attempts)), err.Error()
	default:
		s.log.Error("transcript not sent", zap.String("conv", j.Conv), zap.Int("attempt", j.Attempts), zap.Error(err))
		return store.MailFailed, time.Time{}, err.Error()
	}
}

func (s *Sender) deliver(ctx context.Context, ten *fd.Tenant, j store.TranscriptJob) error {
	lines, err := s.st.Transcript(ctx, j.Tenant, j.Conv)
	if err != nil {
		return fmt.Errorf("%w: %w", errConnect, err) // the record, not the mail: retried
	}
	zone := time.UTC
	if z := ten.GetHours().GetTimeZone(); z != "" {
		if loc, err := time.LoadLocation(z); err == nil {
			zone = loc
		}
	}
	tr := Transcript{From: ten.GetMail().GetFrom(), FromName: ten.GetMail().GetFromName(), To: j.Email, Tenant: j.Tenant,
		Conv: j.Conv, Title: ten.GetName(), Zone: zone, Now: s.now()}
	if tr.FromName == "" {
		tr.FromName = ten.GetName()
	}
	if tr.Title == "" {
		tr.Title = ten.GetId()
	}
	for _, l := range lines {
		tr.Lines = append(tr.Lines, Line{Role: l.Role, Name: l.Name, Text: l.Text, Attachment: l.Attachment, At: l.At})
	}
	msg, err := Compose(tr)
	if err != nil {
		return err
	}
	return s.relay.Deliver(ctx, s.tls, s.getenv, tr.From, j.Email, msg)
}
