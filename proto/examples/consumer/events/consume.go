package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/proto/examples/consumer/example"
)

// ConsumerConfig is the durable consumer this example reads the events stream with: every
// tenant's events from the beginning, explicit acks, a bounded number of redeliveries.
func ConsumerConfig(durable string) jetstream.ConsumerConfig {
	return example.ConsumerConfig(durable, subjects.AllEvents())
}

// Consume applies every conversation event of every tenant to stats with the durable consumer
// named durable, until ctx ends. Several processes with the same durable share the work (each
// with its own Stats: the figures are then per process). An event that does not decode is
// terminated rather than blocking the stream; a production consumer would also publish it to
// its dead-letter subject.
func Consume(ctx context.Context, js jetstream.JetStream, durable string, stats *Stats) error {
	return example.Consume(ctx, js, subjects.StreamEvents, ConsumerConfig(durable), func(msg jetstream.Msg) error {
		return Apply(msg, stats)
	})
}

// Apply decodes one delivery, applies it to stats and acks it. A redelivery of an event already
// applied (its ack was lost, or this process crashed between applying and acking) is acked
// again without changing anything: Stats dedupes on the event id, which the dispatcher derives
// from the conversation revision and the event type.
func Apply(msg jetstream.Msg, stats *Stats) error {
	id, ev, ok := decode(msg)
	if !ok {
		return nil
	}
	stats.Add(id, ev)
	// The side effect (the figures) is done: now ack.
	if err := msg.Ack(); err != nil {
		return fmt.Errorf("ack %s: %w", id, err)
	}
	return nil
}

// decode returns a delivery's event and the id it is deduplicated by. A delivery that cannot be
// decoded is terminated (never redelivered) and reported not ok.
func decode(msg jetstream.Msg) (string, *fd.ConversationEvent, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return "", nil, false
	}
	var ev fd.ConversationEvent
	if err := proto.Unmarshal(msg.Data(), &ev); err != nil {
		_ = msg.TermWithReason("undecodable frontdesk.v1.ConversationEvent")
		return "", nil, false
	}
	if ev.GetId() == "" {
		// Every publisher sets the id; without one, the stream sequence still dedupes
		// redeliveries of this stored copy.
		return fmt.Sprintf("seq:%d", meta.Sequence.Stream), &ev, true
	}
	return ev.GetId(), &ev, true
}
