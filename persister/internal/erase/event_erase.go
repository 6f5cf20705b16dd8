package erase

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Announce publishes the erased event once everything else is erased, so platform consumers
// of the events stream erase their copies: register it last. Its subject is the erasure's
// (subjects.Erased), never one of the conversations', so a later erase of the same customer
// does not purge it; its id is the erasure's, so a resumed erase announces once. It counts
// nothing: a second erase that removed nothing still says so with zero counts.
type Announce struct{ JS jetstream.JetStream }

// Name implements Eraser.
func (Announce) Name() string { return "announce" }

// Erase implements Eraser.
func (a Announce) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	ev := &fd.ConversationEvent{
		Id:       subjects.ErasedEventID(t.Tenant, t.Erasure),
		Tenant:   t.Tenant,
		Type:     frames.EventErased,
		Customer: &fd.Participant{Id: t.User, Role: frames.RoleCustomer},
		Actor:    EraseActor,
		At:       timestamppb.Now(),
		Erasure:  t.Erasure,
		// A copy: the target's slice is the runner's.
		ErasedConvs: append([]string{}, t.Convs...),
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return nil, err
	}
	if _, err := a.JS.Publish(ctx, subjects.Erased(t.Tenant, t.Erasure), data, jetstream.WithMsgID(ev.Id)); err != nil {
		return nil, fmt.Errorf("publish erased event: %w", err)
	}
	return nil, nil
}
