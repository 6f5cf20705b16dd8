package store

// Transcripts by email: the requests (transcript_requested events, queued with the events
// that carry them) and what the mail sender (package mail) reads and records.

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// Transcript mail states (transcript_mails.status).
const (
	MailWaiting = "waiting"
	MailSending = "sending"
	MailSent    = "sent"
	MailFailed  = "failed"
	MailLimited = "limited"
)

// queueTranscriptSQL records a transcript request; a replayed one changes nothing.
const queueTranscriptSQL = `INSERT INTO transcript_mails (tenant, conv, email, requested_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING`

// maxEmailBytes bounds an address (RFC 5321: 254 in a path).
const maxEmailBytes = 254

// TranscriptAddress is the address of a transcript request in its stored form (lower case),
// or "" when the event names no single plain address (a display name, several addresses or
// header tricks are refused rather than guessed).
func TranscriptAddress(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailBytes || strings.ContainsAny(s, "\r\n<>,;\"") {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return ""
	}
	return strings.ToLower(s)
}

// queueTranscripts adds the transcript requests among a batch's events to b.
func queueTranscripts(b *pgx.Batch, rows []EventRow) {
	for _, r := range rows {
		ev := r.Event
		if ev.GetType() != frames.EventTranscriptRequested {
			continue
		}
		addr := TranscriptAddress(ev.GetEmail())
		if addr == "" {
			continue
		}
		at := time.Now()
		if ev.GetAt().IsValid() {
			at = ev.GetAt().AsTime()
		}
		b.Queue(queueTranscriptSQL, ev.GetTenant(), ev.GetConv(), addr, at)
	}
}

// TranscriptJob is a transcript the sender took (status sending).
type TranscriptJob struct {
	Tenant, Conv, Email string
	// Attempts counts this one.
	Attempts int
	// TenantLastHour and RecipientLastDay count the mails sent (or being sent) recently, this
	// one excluded: the rate limits' inputs.
	TenantLastHour, RecipientLastDay int
}

// claimTranscriptsSQL takes up to $2 due requests of closed conversations; SKIP LOCKED lets
// replicas share the work.
const claimTranscriptsSQL = `WITH due AS (
	SELECT m.tenant, m.conv, m.email FROM transcript_mails m
	JOIN conversations c ON c.tenant = m.tenant AND c.id = m.conv
	WHERE m.status = 'waiting' AND m.next_attempt_at <= $1 AND c.state = 'closed'
	ORDER BY m.next_attempt_at LIMIT $2
	FOR UPDATE OF m SKIP LOCKED
)
UPDATE transcript_mails m SET status = 'sending', attempts = m.attempts + 1, sent_at = $1
FROM due WHERE m.tenant = due.tenant AND m.conv = due.conv AND m.email = due.email
RETURNING m.tenant, m.conv, m.email, m.attempts,
	(SELECT count(*) FROM transcript_mails o WHERE o.tenant = m.tenant AND o.sent_at > $1 - interval '1 hour'
		AND o.status IN ('sent', 'sending') AND (o.conv, o.email) <> (m.conv, m.email)),
	(SELECT count(*) FROM transcript_mails o WHERE o.tenant = m.tenant AND o.email = m.email
		AND o.sent_at > $1 - interval '1 day' AND o.status IN ('sent', 'sending') AND o.conv <> m.conv)`

// ClaimTranscripts marks up to limit due transcript requests of closed conversations as
// sending and returns them. Each is then finished with FinishTranscript.
func (s *Store) ClaimTranscripts(ctx context.Context, now time.Time, limit int) ([]TranscriptJob, error) {
	rows, err := s.pool.Query(ctx, claimTranscriptsSQL, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim transcripts: %w", err)
	}
	var out []TranscriptJob
	var j TranscriptJob
	_, err = pgx.ForEachRow(rows, []any{&j.Tenant, &j.Conv, &j.Email, &j.Attempts, &j.TenantLastHour, &j.RecipientLastDay}, func() error {
		out = append(out, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim transcripts: %w", err)
	}
	return out, nil
}

// finishTranscriptSQL records how an attempt ended. sent_at stays only on sent rows.
const finishTranscriptSQL = `UPDATE transcript_mails SET status = $4, next_attempt_at = coalesce($5, next_attempt_at),
	error = $6, sent_at = CASE WHEN $4 = 'sent' THEN sent_at END
WHERE tenant = $1 AND conv = $2 AND email = $3 AND status = 'sending'`

// FinishTranscript records the end of an attempt: status MailSent, MailFailed, MailLimited,
// or MailWaiting with retryAt for a transient failure.
func (s *Store) FinishTranscript(ctx context.Context, j TranscriptJob, status string, retryAt time.Time, reason string) error {
	var next *time.Time
	if status == MailWaiting {
		next = &retryAt
	}
	if _, err := s.pool.Exec(ctx, finishTranscriptSQL, j.Tenant, j.Conv, j.Email, status, next, reason); err != nil {
		return fmt.Errorf("finish transcript of %s to %s: %w", j.Conv, j.Email, err)
	}
	return nil
}

// TranscriptLine is one message of a transcript.
type TranscriptLine struct {
	Role, Name, Kind, Text, Attachment string
	At                                 time.Time
}

// maxTranscriptLines bounds a transcript mail (the record has the rest).
const maxTranscriptLines = 2000

const transcriptSQL = `SELECT sender_role, sender_name, kind, text, attachment_name, created_at FROM messages
WHERE tenant = $1 AND conv = $2 AND sender_role <> 'system' AND kind <> 'transcript' AND anonymized_at IS NULL
ORDER BY seq LIMIT $3`

// Transcript reads a conversation's messages for its transcript, oldest first.
func (s *Store) Transcript(ctx context.Context, tenant, conv string) ([]TranscriptLine, error) {
	rows, err := s.pool.Query(ctx, transcriptSQL, tenant, conv, maxTranscriptLines)
	if err != nil {
		return nil, fmt.Errorf("transcript of %s: %w", conv, err)
	}
	var out []TranscriptLine
	var l TranscriptLine
	_, err = pgx.ForEachRow(rows, []any{&l.Role, &l.Name, &l.Kind, &l.Text, &l.Attachment, &l.At}, func() error {
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transcript of %s: %w", conv, err)
	}
	return out, nil
}
