package erase

import (
	"context"
	"slices"

	"github.com/frontdesk-chat/frontdesk/persister/internal/bus"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// DeadLetters deletes the dead-letter copies of the customer's data: every letter whose
// original subject is one of the customer's conversations (messages, events, commands, read
// positions, notes) or names the customer (their read positions, notices). The max-deliveries
// advisories that lead to dead letters are core NATS messages, never stored: the dead-letter
// stream is the one place failed copies are kept.
type DeadLetters struct{ Bus *bus.Bus }

// Name implements Eraser.
func (DeadLetters) Name() string { return "deadletters" }

// Erase implements Eraser.
func (d DeadLetters) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	n, err := d.Bus.DeleteDeadLetters(ctx, func(dl *fd.DeadLetter) bool { return t.holds(dl.GetSubject()) })
	return map[string]int64{"stream." + subjects.StreamDeadLetters: n}, err
}

// holds says whether a subject carries the target's data: one of their conversations, or
// their own id, in their tenant.
func (t Target) holds(subject string) bool {
	p, err := subjects.Parse(subject)
	if err != nil || p.Tenant != t.Tenant {
		return false
	}
	return (p.Conv != "" && slices.Contains(t.Convs, p.Conv)) || p.User == t.User
}
