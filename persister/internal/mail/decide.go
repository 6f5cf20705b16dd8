package mail

import (
	"errors"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Defaults of the tenant's limits (Mail.per_hour, per_recipient_per_day).
const (
	DefaultPerHour            = 200
	DefaultPerRecipientPerDay = 5
)

// Verdict is what to do with a transcript request taken from the record.
type Verdict int

const (
	// Send it.
	Send Verdict = iota
	// Off: the tenant does not send transcripts (or has no sender): failed, not retried.
	Off
	// Limited: over the tenant's or the recipient's limit: dropped, never sent.
	Limited
)

// Admit decides whether a request may be sent under the tenant's settings, given the mails
// the tenant sent in the last hour and the recipient received from it in the last day.
func Admit(cfg *fd.Mail, tenantLastHour, recipientLastDay int) Verdict {
	if !cfg.GetTranscripts() || cfg.GetFrom() == "" {
		return Off
	}
	perHour, perDay := int(cfg.GetPerHour()), int(cfg.GetPerRecipientPerDay())
	if perHour <= 0 {
		perHour = DefaultPerHour
	}
	if perDay <= 0 {
		perDay = DefaultPerRecipientPerDay
	}
	if tenantLastHour >= perHour || recipientLastDay >= perDay {
		return Limited
	}
	return Send
}

// Transient reports whether a failed attempt may succeed later: the relay answered 4xx, or it
// could not be reached or the connection broke before it accepted the mail. A 5xx answer
// (bad address, refused content) is final.
func Transient(err error) bool {
	if errors.Is(err, errUncertain) {
		return false
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code >= 400 && se.Code < 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, errConnect)
}

// errConnect wraps failures to reach the relay.
var errConnect = errors.New("connect to relay")

// Backoff is the wait before attempt n+1 after n failed ones: 30 s doubling, at most an hour.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
