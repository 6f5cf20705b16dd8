package erase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// DefaultInFlightWait bounds how long an erase waits for the dispatcher to close the
// customer's open conversations; past it the attempt fails and is retried (Resume).
const DefaultInFlightWait = 30 * time.Second

// inFlightPoll is how often the conversations' state is read while waiting.
const inFlightPoll = 50 * time.Millisecond

// EraseActor is the actor of the erase commands and the erased event: the dispatcher accepts an erase from a system
// actor only.
var EraseActor = &fd.Participant{Id: "persister", Role: frames.RoleSystem}

// InFlight closes the customer's open conversations before anything of them is removed: it
// sends the dispatcher an erase command per open conversation (the dispatcher takes it out of
// its line, frees the agent's slot, drops its participation, open key and record, and forgets
// it) and waits until each is closed. Run first, so the streams, buckets and record erased
// after it get no new copy from a live conversation. The command's id and Nats-Msg-Id are the
// conversation's, so a retried erase sends nothing twice.
type InFlight struct {
	JS jetstream.JetStream
	// Wait bounds the wait for the dispatcher (DefaultInFlightWait when zero).
	Wait time.Duration
}

// Name implements Eraser.
func (InFlight) Name() string { return "dispatcher" }

// Erase implements Eraser.
func (f InFlight) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	kv, err := f.JS.KeyValue(ctx, subjects.BucketConversations)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", subjects.BucketConversations, err)
	}
	open, err := openConvs(ctx, kv, t)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, conv := range open {
		c := &fd.Command{Id: "erase_" + conv, Tenant: t.Tenant, Conv: conv, Type: frames.CommandErase, Actor: EraseActor,
			At: timestamppb.Now()}
		data, err := proto.Marshal(c)
		if err != nil {
			return counts, err
		}
		if _, err := f.JS.Publish(ctx, subjects.ConvCommands(t.Tenant, conv), data, jetstream.WithMsgID(c.Id)); err != nil {
			return counts, fmt.Errorf("erase command for %s: %w", conv, err)
		}
	}
	wait := f.Wait
	if wait <= 0 {
		wait = DefaultInFlightWait
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err = poll(wctx, "the dispatcher", func() error {
		left, err := openConvs(wctx, kv, Target{Tenant: t.Tenant, Convs: open})
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("dispatcher has not closed %v", left)
		}
		return err
	}, nil)
	if err != nil {
		return counts, err
	}
	counts["dispatcher.closed"] = int64(len(open))
	return counts, nil
}

// openConvs lists the target's conversations the dispatcher still handles (bot, queued or
// assigned). A key that is gone or does not hold a conversation is nothing to close.
func openConvs(ctx context.Context, kv jetstream.KeyValue, t Target) ([]string, error) {
	return convsIn(ctx, kv, t, frames.StateBot, frames.StateQueued, frames.StateAssigned)
}

// convsIn lists the target's conversations whose key holds one of states; a key that is gone
// or does not hold a conversation is in none.
func convsIn(ctx context.Context, kv jetstream.KeyValue, t Target, states ...string) ([]string, error) {
	var out []string
	for _, conv := range t.Convs {
		e, err := kv.Get(ctx, subjects.ConversationKey(t.Tenant, conv))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("conversation %s: %w", conv, err)
		}
		c := &fd.Conversation{}
		if proto.Unmarshal(e.Value(), c) == nil && slices.Contains(states, c.GetState()) {
			out = append(out, conv)
		}
	}
	return out, nil
}
