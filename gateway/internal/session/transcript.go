package session

import (
	"context"
	"net/mail"
	"strings"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// plainAddress accepts one plain email address (no display name, no list): what goes into the
// mail's envelope and To header.
func plainAddress(s string) bool {
	if s == "" || len(s) > frames.MaxEmailBytes || strings.ContainsAny(s, "\r\n<>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// transcriptAddress refuses a transcript frame whose email is not one plain address.
func transcriptAddress(f *fd.ClientFrame) error {
	if !plainAddress(strings.TrimSpace(f.GetEmail())) {
		return badFrameError("email must be one address, like name@example.com")
	}
	return nil
}

// handleTranscript turns a request for the transcript by email (the customer at the close, or
// an agent for them) into the dispatcher's transcript command; the persister mails it once the
// conversation is closed.
func (s *Session) handleTranscript(ctx context.Context, f *fd.ClientFrame) error {
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, f.GetConv()), &fd.Command{Type: frames.CommandTranscript,
		Conv: f.GetConv(), Email: strings.TrimSpace(f.GetEmail())})
}
