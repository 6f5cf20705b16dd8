package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/proto/examples/consumer/example"
)

// Counts is the consumer's state: messages per tenant and sender role, and the stream
// sequences already counted, so a redelivered message is not counted twice.
type Counts struct {
	mu     sync.Mutex
	byRole map[string]map[string]int64
	seen   map[uint64]struct{}
}

// NewCounts returns empty counts.
func NewCounts() *Counts {
	return &Counts{byRole: map[string]map[string]int64{}, seen: map[uint64]struct{}{}}
}

// Add counts one message once per stream sequence; it reports whether it was new.
func (c *Counts) Add(seq uint64, m *fd.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.seen[seq]; dup {
		return false
	}
	c.seen[seq] = struct{}{}
	roles := c.byRole[m.GetTenant()]
	if roles == nil {
		roles = map[string]int64{}
		c.byRole[m.GetTenant()] = roles
	}
	roles[m.GetFrom().GetRole()]++
	return true
}

// Snapshot copies the totals: tenant -> role -> messages.
func (c *Counts) Snapshot() map[string]map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]int64, len(c.byRole))
	for t, roles := range c.byRole {
		cp := make(map[string]int64, len(roles))
		for r, n := range roles {
			cp[r] = n
		}
		out[t] = cp
	}
	return out
}

// Consume counts every message of every tenant with a durable pull consumer named durable, until
// ctx ends. Several processes with the same durable share the work. A payload that does not
// decode is terminated (never redelivered) rather than blocking the stream; a production consumer
// would also publish it to its dead-letter subject.
func Consume(ctx context.Context, js jetstream.JetStream, durable string, counts *Counts) error {
	cfg := example.ConsumerConfig(durable, subjects.AllMessages())
	return example.Consume(ctx, js, subjects.StreamMessages, cfg, func(msg jetstream.Msg) error {
		meta, err := msg.Metadata()
		if err != nil {
			_ = msg.Term()
			return nil
		}
		var m fd.Message
		if err := proto.Unmarshal(msg.Data(), &m); err != nil {
			_ = msg.TermWithReason("undecodable frontdesk.v1.Message")
			return nil
		}
		counts.Add(meta.Sequence.Stream, &m)
		// The side effect (the count) is done: now ack.
		if err := msg.Ack(); err != nil {
			return fmt.Errorf("ack %d: %w", meta.Sequence.Stream, err)
		}
		return nil
	})
}
