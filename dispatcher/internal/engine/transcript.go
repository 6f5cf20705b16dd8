package engine

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// stateless are the command types that change no state: apply handles them before decide, so
// they are not in allCommands (the transition matrix).
var stateless = []string{frames.CommandTranscript}

// transcriptRequested announces a request for the conversation's transcript by email
// (transcript_requested, with the address): the persister mails it once the conversation is
// closed. It changes no state, so it needs no decision: the conversation only has to exist.
// The event id derives from the command's, so a retried frame is one request.
func (t *tenant) transcriptRequested(ctx context.Context, c command, now time.Time) error {
	cs := t.convs[c.GetConv()]
	if cs == nil {
		var err error
		if cs, err = t.fetch(ctx, c.GetConv()); err != nil || cs == nil {
			return err // unknown conversation: nothing to do
		}
	}
	conv := cs.c.GetConv()
	id := subjects.EventID(t.id, conv, 0, frames.EventTranscriptRequested+"."+c.GetId())
	ev := &fd.ConversationEvent{Id: id, Tenant: t.id, Conv: conv, Type: frames.EventTranscriptRequested,
		State: cs.c.GetState(), Revision: cs.rev, Customer: cs.c.GetCustomer(), Agent: cs.c.GetAgent(),
		Queue: cs.c.GetQueue(), Actor: c.GetActor(), At: timestamppb.New(now), Email: c.GetEmail()}
	data, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	if err := t.sendEvent(ctx, pendingEvent{conv: conv, id: id, typ: ev.Type, data: data}); err != nil {
		t.log.Debug("transcript request waits", zap.String("conv", conv), zap.Error(err))
	}
	return nil
}
