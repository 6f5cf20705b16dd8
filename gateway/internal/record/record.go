// Package record is the gateway's access to what other services keep: the conversation,
// participant and open-conversation buckets, the messages stream's bounds, the attachments
// object store and the persister's queries (history, unread counts, reports). The session
// package speaks the protocol; this package knows where the state lives and how it is encoded.
package record

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/quota"
)

// Record reads and writes the shared state of the contract. It is safe for concurrent use.
type Record struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration // bounds persister requests

	msgs   jetstream.Stream
	kvConv jetstream.KeyValue
	kvPart jetstream.KeyValue
	kvOpen jetstream.KeyValue

	quota *quota.Counter // tenants' storage quotas (quota.go)

	objMu sync.Mutex
	obj   jetstream.ObjectStore // opened on first use: the bucket may be created after start
}

// Open binds the streams and buckets of the contract, which must exist. requestTimeout bounds
// each persister request.
func Open(ctx context.Context, nc *nats.Conn, requestTimeout time.Duration) (*Record, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	r := &Record{nc: nc, js: js, timeout: requestTimeout}
	if r.msgs, err = js.Stream(ctx, subjects.StreamMessages); err != nil {
		return nil, fmt.Errorf("stream %s: %w", subjects.StreamMessages, err)
	}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{subjects.BucketConversations, &r.kvConv}, {subjects.BucketParticipants, &r.kvPart}, {subjects.BucketOpen, &r.kvOpen}} {
		if *b.kv, err = js.KeyValue(ctx, b.name); err != nil {
			return nil, fmt.Errorf("kv %s: %w", b.name, err)
		}
	}
	if r.quota, err = quota.Open(ctx, js); err != nil {
		return nil, err
	}
	return r, nil
}

// JetStream returns the record's JetStream handle (stream reads, publishes).
func (r *Record) JetStream() jetstream.JetStream { return r.js }

// Conversation reads a conversation's state; nil when it does not exist in the tenant.
func (r *Record) Conversation(ctx context.Context, tenant, conv string) (*fd.Conversation, error) {
	e, err := r.kvConv.Get(ctx, subjects.ConversationKey(tenant, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("conversation %s: %w", conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", conv, err)
	}
	return c, nil
}

// CreateConversation stores a new conversation; one that exists already is left as it is
// (creation is retried by whoever finds it half done).
func (r *Record) CreateConversation(ctx context.Context, c *fd.Conversation) error {
	b, err := proto.Marshal(c)
	if err != nil {
		return fmt.Errorf("marshal conversation: %w", err)
	}
	if _, err := r.kvConv.Create(ctx, subjects.ConversationKey(c.GetTenant(), c.GetConv()), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("create conversation: %w", err)
	}
	return nil
}

// Participant reports whether user takes part in conv.
func (r *Record) Participant(ctx context.Context, tenant, user, conv string) (bool, error) {
	_, err := r.kvPart.Get(ctx, subjects.ParticipantKey(tenant, user, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("participant %s: %w", conv, err)
	}
	return true, nil
}

// PutParticipant records that p takes part in conv.
func (r *Record) PutParticipant(ctx context.Context, tenant, conv string, p *fd.Participant) error {
	b, err := proto.Marshal(p)
	if err != nil {
		return fmt.Errorf("marshal participant: %w", err)
	}
	if _, err := r.kvPart.Put(ctx, subjects.ParticipantKey(tenant, p.GetId(), conv), b); err != nil {
		return fmt.Errorf("participant: %w", err)
	}
	return nil
}

// Participations lists the conversations user takes part in.
func (r *Record) Participations(ctx context.Context, tenant, user string) ([]string, error) {
	lister, err := r.kvPart.ListKeysFiltered(ctx, subjects.ParticipantFilter(tenant, user))
	if err != nil {
		return nil, fmt.Errorf("participations: %w", err)
	}
	prefix := subjects.ParticipantFilter(tenant, user)
	prefix = prefix[:len(prefix)-1]
	var convs []string
	for k := range lister.Keys() {
		convs = append(convs, strings.TrimPrefix(k, prefix))
	}
	return convs, nil
}

// OpenConversation returns a customer's open conversation and the revision of its key; found
// is false when there is none.
func (r *Record) OpenConversation(ctx context.Context, tenant, user string) (conv string, rev uint64, found bool, err error) {
	e, err := r.kvOpen.Get(ctx, subjects.OpenKey(tenant, user))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, fmt.Errorf("open conversation: %w", err)
	}
	return string(e.Value()), e.Revision(), true, nil
}

// ClaimOpen makes conv the customer's open conversation unless there is one already; taken
// is false then.
func (r *Record) ClaimOpen(ctx context.Context, tenant, user, conv string) (taken bool, err error) {
	_, err = r.kvOpen.Create(ctx, subjects.OpenKey(tenant, user), []byte(conv))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, fmt.Errorf("open conversation: %w", err)
}

// ReleaseOpen removes the customer's open-conversation key if it is still at revision rev
// (a conversation closed whose key the dispatcher has not removed yet). It is best effort:
// whoever loses the race reads the key again.
func (r *Record) ReleaseOpen(ctx context.Context, tenant, user string, rev uint64) {
	_ = r.kvOpen.Delete(ctx, subjects.OpenKey(tenant, user), jetstream.LastRevision(rev))
}

// LastSeq is the highest stored sequence of a conversation (0 for none).
func (r *Record) LastSeq(ctx context.Context, tenant, conv string) (int64, error) {
	msg, err := r.msgs.GetLastMsgForSubject(ctx, subjects.Messages(tenant, conv))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last message of %s: %w", conv, err)
	}
	return int64(msg.Sequence), nil
}

// FirstSeq is the first sequence the messages stream still holds; older messages are only in
// the persister's record.
func (r *Record) FirstSeq(ctx context.Context) (int64, error) {
	info, err := r.msgs.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return int64(info.State.FirstSeq), nil
}
