// Package dispatchertest stands in for the dispatcher in gateway tests and load runs: it
// performs the dispatcher's side of an assignment, exactly as the contract describes it
// (participant key, conversation update, assigned event, assigned frame to the agent), when no
// dispatcher runs. It is test tooling, never part of the gateway's own behaviour: nothing but
// tests and cmd/loadgen may import it.
package dispatchertest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Assign gives conversation conv of tenant to agent.
func Assign(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, tenant, conv string, agent *fd.Participant) error {
	kvConv, err := js.KeyValue(ctx, subjects.BucketConversations)
	if err != nil {
		return fmt.Errorf("conversations bucket: %w", err)
	}
	kvPart, err := js.KeyValue(ctx, subjects.BucketParticipants)
	if err != nil {
		return fmt.Errorf("participants bucket: %w", err)
	}
	e, err := kvConv.Get(ctx, subjects.ConversationKey(tenant, conv))
	if err != nil {
		return fmt.Errorf("conversation %s: %w", conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return fmt.Errorf("conversation %s: %w", conv, err)
	}
	c.State = frames.StateAssigned
	c.Agent = agent
	c.AssignedAt = timestamppb.Now()
	b, _ := proto.Marshal(c)
	rev, err := kvConv.Update(ctx, subjects.ConversationKey(tenant, conv), b, e.Revision())
	if err != nil {
		return fmt.Errorf("update conversation %s: %w", conv, err)
	}
	pb, _ := proto.Marshal(agent)
	if _, err := kvPart.Put(ctx, subjects.ParticipantKey(tenant, agent.GetId(), conv), pb); err != nil {
		return fmt.Errorf("participant: %w", err)
	}
	ev := &fd.ConversationEvent{Id: subjects.EventID(tenant, conv, rev, frames.EventAssigned), Tenant: tenant, Conv: conv, Type: frames.EventAssigned,
		State: frames.StateAssigned, Revision: rev, Customer: c.GetCustomer(), Agent: agent, At: timestamppb.Now()}
	eb, _ := proto.Marshal(ev)
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subjects.Events(tenant, conv), Data: eb,
		Header: nats.Header{jetstream.MsgIDHeader: {ev.Id}}}); err != nil {
		return fmt.Errorf("assigned event: %w", err)
	}
	fb, _ := proto.Marshal(&fd.ServerFrame{Type: frames.TypeAssigned, Conv: conv, Agent: agent, Customer: c.GetCustomer()})
	if err := nc.Publish(subjects.User(tenant, agent.GetId()), fb); err != nil {
		return fmt.Errorf("assigned frame: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		return nc.FlushTimeout(5 * time.Second)
	}
	return nc.FlushWithContext(ctx)
}
