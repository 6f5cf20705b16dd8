package mail

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestAdmit(t *testing.T) {
	t.Parallel()
	on := &fd.Mail{Transcripts: true, From: "s@acme.test", PerHour: 10, PerRecipientPerDay: 2}
	tests := []struct {
		name              string
		cfg               *fd.Mail
		lastHour, lastDay int
		want              Verdict
	}{
		{"within the limits", on, 9, 1, Send},
		{"tenant's hour full", on, 10, 0, Limited},
		{"recipient's day full", on, 0, 2, Limited},
		{"off", &fd.Mail{From: "s@acme.test"}, 0, 0, Off},
		{"no sender", &fd.Mail{Transcripts: true}, 0, 0, Off},
		{"no settings", nil, 0, 0, Off},
		{"defaults", &fd.Mail{Transcripts: true, From: "s@acme.test"}, DefaultPerHour - 1, DefaultPerRecipientPerDay - 1, Send},
		{"default recipient limit reached", &fd.Mail{Transcripts: true, From: "s@acme.test"}, 0, DefaultPerRecipientPerDay, Limited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Admit(tt.cfg, tt.lastHour, tt.lastDay); got != tt.want {
				t.Errorf("Admit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"451 try later", fmt.Errorf("data: %w", &smtp.SMTPError{Code: 451}), true},
		{"550 no such user", fmt.Errorf("rcpt to: %w", &smtp.SMTPError{Code: 550}), false},
		{"relay unreachable", fmt.Errorf("%w: %w", errConnect, errors.New("refused")), true},
		{"timeout", &net.OpError{Op: "read", Err: errors.New("i/o timeout")}, true},
		{"broke while the relay answered the data", fmt.Errorf("data: %w: %w", errUncertain, &net.OpError{Op: "read"}), false},
		{"bad message", errors.New("recipient: mail: missing @"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{0: 30 * time.Second, 1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute,
		7: 32 * time.Minute, 8: time.Hour, 20: time.Hour} {
		if want > time.Hour {
			want = time.Hour
		}
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}
