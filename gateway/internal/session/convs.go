package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Errors of conversation access, mapped to protocol error codes by the session.
var (
	errUnknownConv = errors.New("unknown conversation")
	errForbidden   = errors.New("forbidden")
)

// convSubs are the subscriptions a session holds per conversation it takes part in.
func convSubs(tenant, conv string) [4]struct {
	kind hub.Kind
	subj string
} {
	return [4]struct {
		kind hub.Kind
		subj string
	}{
		{hub.Messages, subjects.Deliver(tenant, conv)},
		{hub.Events, subjects.Events(tenant, conv)},
		{hub.Live, subjects.Live(tenant, conv)},
		{hub.Reads, subjects.ConvReads(tenant, conv)},
	}
}

// join subscribes the session to a conversation's subjects (no-op if already joined).
func (s *Session) join(conv string) error {
	if s.detached {
		return nil
	}
	s.mu.Lock()
	if _, ok := s.convs[conv]; ok || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.convs[conv] = &convState{}
	s.mu.Unlock()
	for _, sub := range convSubs(s.tenant, conv) {
		if err := s.m.hub.Subscribe(sub.kind, sub.subj, conv, s); err != nil {
			s.leave(conv)
			return err
		}
	}
	return nil
}

// leave unsubscribes the session from a conversation.
func (s *Session) leave(conv string) {
	s.mu.Lock()
	_, ok := s.convs[conv]
	delete(s.convs, conv)
	s.mu.Unlock()
	if ok {
		s.unsubscribeConv(conv)
	}
}

func (s *Session) unsubscribeConv(conv string) {
	for _, sub := range convSubs(s.tenant, conv) {
		s.m.hub.Unsubscribe(sub.subj, s)
	}
}

func (s *Session) joined(conv string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.convs[conv]
	return ok
}

// access checks that the session may act on conv and joins it when the user takes part in it
// (an agent assigned while this session missed the frame, say). Reading (read is true for sync
// and history) needs no participant key: supervisors may read every conversation of their
// tenant, and the customer and agent the conversation record names may read it after it
// closed (the dispatcher deletes participant keys on close).
func (s *Session) access(ctx context.Context, conv string, read bool) error {
	if !subjects.ValidToken(conv) {
		return errUnknownConv
	}
	if s.joined(conv) {
		return nil
	}
	m := s.m
	if _, err := m.kvPart.Get(ctx, subjects.ParticipantKey(s.tenant, s.user, conv)); err == nil {
		return s.join(conv)
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("participant %s: %w", conv, err)
	}
	c, err := m.conversation(ctx, s.tenant, conv)
	if err != nil {
		return err
	}
	if c == nil {
		return errUnknownConv
	}
	if read && s.mayRead(c) {
		return nil
	}
	return errForbidden
}

// mayRead reports whether the session's user may read c without a participant key.
func (s *Session) mayRead(c *fd.Conversation) bool {
	switch s.role {
	case frames.RoleSupervisor:
		return true
	case frames.RoleCustomer:
		return c.GetCustomer().GetId() == s.user
	default:
		return c.GetAgent().GetId() == s.user
	}
}

// conversation reads a conversation's state; nil when it does not exist in the tenant.
func (m *Manager) conversation(ctx context.Context, tenant, conv string) (*fd.Conversation, error) {
	e, err := m.kvConv.Get(ctx, subjects.ConversationKey(tenant, conv))
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

// Participant reports whether user takes part in conv (attachments).
func (m *Manager) Participant(ctx context.Context, tenant, user, conv string) (bool, error) {
	_, err := m.kvPart.Get(ctx, subjects.ParticipantKey(tenant, user, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// lastSeqOf is the highest stored sequence of a conversation (0 for none).
func (m *Manager) lastSeqOf(ctx context.Context, tenant, conv string) (int64, error) {
	msg, err := m.msgs.GetLastMsgForSubject(ctx, subjects.Messages(tenant, conv))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last message of %s: %w", conv, err)
	}
	return int64(msg.Sequence), nil
}

// openConversations lists the user's open conversations for welcome: a customer's one open
// conversation (fd_open), an agent's participations.
func (m *Manager) openConversations(ctx context.Context, s *Session) ([]*fd.ConversationSummary, error) {
	var convs []string
	if s.role == frames.RoleCustomer {
		e, err := m.kvOpen.Get(ctx, subjects.OpenKey(s.tenant, s.user))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, fmt.Errorf("open conversation: %w", err)
		default:
			convs = append(convs, string(e.Value()))
		}
	} else {
		lister, err := m.kvPart.ListKeysFiltered(ctx, subjects.ParticipantFilter(s.tenant, s.user))
		if err != nil {
			return nil, fmt.Errorf("participations: %w", err)
		}
		prefix := subjects.ParticipantFilter(s.tenant, s.user)
		prefix = prefix[:len(prefix)-1]
		for k := range lister.Keys() {
			convs = append(convs, strings.TrimPrefix(k, prefix))
		}
	}
	var out []*fd.ConversationSummary
	for _, id := range convs {
		c, err := m.conversation(ctx, s.tenant, id)
		if err != nil {
			return nil, err
		}
		if c == nil || c.GetState() == frames.StateClosed {
			continue
		}
		sum := &fd.ConversationSummary{Conv: id, State: c.GetState(), Customer: c.GetCustomer(), Agent: c.GetAgent()}
		if c.OpenedAt != nil {
			sum.OpenedAt = frames.Timestamp(c.OpenedAt.AsTime())
		}
		out = append(out, sum)
	}
	return out, nil
}

// customerConversation returns the customer's open conversation, opening one when there is
// none (PROTOCOL flow "Open"). created is true when this call opened it.
func (m *Manager) customerConversation(ctx context.Context, s *Session) (conv string, created bool, err error) {
	key := subjects.OpenKey(s.tenant, s.user)
	for range 3 {
		id := NewID("c_")
		_, err := m.kvOpen.Create(ctx, key, []byte(id))
		if err == nil {
			// Follow the conversation before the dispatcher hears of it: its answer (queued,
			// or assigned at once when an agent is free) is published on the conversation's
			// subjects and would otherwise reach nobody.
			if err := s.join(id); err != nil {
				return "", false, err
			}
			if err := m.createConversation(ctx, s, id); err != nil {
				return "", false, err
			}
			return id, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", false, fmt.Errorf("open conversation: %w", err)
		}
		e, err := m.kvOpen.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // closed meanwhile
		}
		if err != nil {
			return "", false, fmt.Errorf("open conversation: %w", err)
		}
		id = string(e.Value())
		c, err := m.conversation(ctx, s.tenant, id)
		if err != nil {
			return "", false, err
		}
		switch {
		case c == nil:
			// The gateway that took the key died before creating the conversation: finish
			// its work (every step is idempotent).
			if err := s.join(id); err != nil {
				return "", false, err
			}
			if err := m.createConversation(ctx, s, id); err != nil {
				return "", false, err
			}
			return id, false, nil
		case c.GetState() == frames.StateClosed:
			// The dispatcher closed it but has not removed the key yet.
			_ = m.kvOpen.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
			continue
		}
		return id, false, nil
	}
	return "", false, errors.New("open conversation: too much contention")
}

func (m *Manager) createConversation(ctx context.Context, s *Session, conv string) error {
	t, ok := m.tenants.Get(s.tenant)
	if !ok {
		return errForbidden
	}
	state := frames.StateQueued
	if t.GetBot().GetEnabled() {
		state = frames.StateBot
	}
	at := now()
	c := &fd.Conversation{Tenant: s.tenant, Conv: conv, State: state, Customer: s.me,
		Language: s.claims.Language, Priority: int32(s.claims.Priority), OpenedAt: at}
	if state == frames.StateQueued {
		c.QueuedAt = at
	}
	b, err := proto.Marshal(c)
	if err != nil {
		return fmt.Errorf("marshal conversation: %w", err)
	}
	if _, err := m.kvConv.Create(ctx, subjects.ConversationKey(s.tenant, conv), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("create conversation: %w", err)
	}
	pb, _ := proto.Marshal(s.me)
	if _, err := m.kvPart.Put(ctx, subjects.ParticipantKey(s.tenant, s.user, conv), pb); err != nil {
		return fmt.Errorf("participant: %w", err)
	}
	ev := &fd.ConversationEvent{Id: "opened/" + conv, Tenant: s.tenant, Conv: conv, Type: frames.EventOpened, State: state,
		Customer: s.me, Actor: s.me, At: at}
	if _, err := m.jsPublish(ctx, subjects.Events(s.tenant, conv), ev.Id, ev); err != nil {
		return err
	}
	cmd := &fd.Command{Id: "open/" + conv, Tenant: s.tenant, Conv: conv, Type: frames.CommandOpen, Actor: s.me, Customer: s.me,
		Priority: int32(s.claims.Priority), Language: s.claims.Language, At: at}
	if _, err := m.jsPublish(ctx, subjects.ConvCommands(s.tenant, conv), cmd.Id, cmd); err != nil {
		return err
	}
	return nil
}

// unread fills the unread counts of welcome from the persister, when it answers quickly; welcome
// does not wait for a slow or absent record (unread is optional).
func (m *Manager) unread(ctx context.Context, s *Session, sums []*fd.ConversationSummary) {
	req := &fd.UnreadRequest{Tenant: s.tenant, User: s.user}
	for _, c := range sums {
		req.Convs = append(req.Convs, c.GetConv())
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, unreadTimeout)
	defer cancel()
	msg, err := m.nc.RequestWithContext(ctx, subjects.UnreadQuery(s.tenant), b)
	if err != nil {
		return
	}
	reply := &fd.UnreadReply{}
	if proto.Unmarshal(msg.Data, reply) != nil || reply.GetError() != "" {
		return
	}
	for _, c := range sums {
		if n, ok := reply.GetUnread()[c.GetConv()]; ok {
			c.Unread = &n
		}
	}
}

// unreadTimeout bounds the unread query of welcome.
const unreadTimeout = 300 * time.Millisecond
