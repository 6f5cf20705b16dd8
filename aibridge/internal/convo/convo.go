// Package convo reads what the AI bridge needs to know about a conversation from JetStream: its
// state and fencing revision (the dispatcher's conversations bucket, read only), a guard that
// cancels a reply in flight the moment the conversation changes hands, and the last turns of the
// conversation from the messages stream.
package convo

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// ErrNotFound is returned for a conversation that is not in the bucket.
var ErrNotFound = errors.New("conversation not found")

// State is a conversation and the KV revision it was read at (the fencing token).
type State struct {
	// Conv is the conversation.
	Conv *fd.Conversation
	// Revision is its revision in the conversations bucket.
	Revision uint64
}

// Get reads a conversation's current state. The bridge never writes the bucket: the dispatcher
// owns it, and a write would move the revision other replies are fenced on.
func Get(ctx context.Context, kv jetstream.KeyValue, tenant, conv string) (State, error) {
	e, err := kv.Get(ctx, subjects.ConversationKey(tenant, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return State{}, ErrNotFound
	}
	if err != nil {
		return State{}, fmt.Errorf("get conversation %s/%s: %w", tenant, conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return State{}, fmt.Errorf("decode conversation %s/%s: %w", tenant, conv, err)
	}
	return State{Conv: c, Revision: e.Revision()}, nil
}
