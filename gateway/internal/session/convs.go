package session

import (
	"context"
	"errors"
	"time"

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
	subs := convSubs(s.tenant, conv)
	for _, sub := range append(subs[:], s.staffSubs(conv)...) {
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
	subs := convSubs(s.tenant, conv)
	for _, sub := range append(subs[:], s.staffSubs(conv)...) {
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
	ok, err := m.rec.Participant(ctx, s.tenant, s.user, conv)
	if err != nil {
		return err
	}
	if ok {
		return s.join(conv)
	}
	c, err := m.rec.Conversation(ctx, s.tenant, conv)
	if err != nil {
		return err
	}
	if c == nil {
		return errUnknownConv
	}
	if read && (s.mayRead(c) || s.tookPart(ctx, conv)) { // tookPart: workspace.go
		if s.role == frames.RoleSupervisor && c.GetState() != frames.StateClosed {
			// A supervisor who opens a live conversation watches it live (desk.go).
			return s.join(conv)
		}
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

// Participant reports whether user takes part in conv (attachments).
func (m *Manager) Participant(ctx context.Context, tenant, user, conv string) (bool, error) {
	return m.rec.Participant(ctx, tenant, user, conv)
}

// openConversations lists the user's open conversations for welcome: a customer's one open
// conversation (fd_open), an agent's participations.
func (m *Manager) openConversations(ctx context.Context, s *Session) ([]*fd.ConversationSummary, error) {
	var convs []string
	if s.role == frames.RoleCustomer {
		conv, _, found, err := m.rec.OpenConversation(ctx, s.tenant, s.user)
		if err != nil {
			return nil, err
		}
		if found {
			convs = append(convs, conv)
		}
	} else {
		var err error
		if convs, err = m.rec.Participations(ctx, s.tenant, s.user); err != nil {
			return nil, err
		}
	}
	var out []*fd.ConversationSummary
	for _, id := range convs {
		c, err := m.rec.Conversation(ctx, s.tenant, id)
		if err != nil {
			return nil, err
		}
		if c == nil || c.GetState() == frames.StateClosed {
			continue
		}
		sum := &fd.ConversationSummary{Conv: id, State: c.GetState(), Customer: c.GetCustomer(), Agent: c.GetAgent()}
		if s.role != frames.RoleCustomer {
			sum.Labels = c.GetLabels()
		}
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
	for range 3 {
		id := NewID("c_")
		taken, err := m.rec.ClaimOpen(ctx, s.tenant, s.user, id)
		if err != nil {
			return "", false, err
		}
		if taken {
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
		id, rev, found, err := m.rec.OpenConversation(ctx, s.tenant, s.user)
		if err != nil {
			return "", false, err
		}
		if !found {
			continue // closed meanwhile
		}
		c, err := m.rec.Conversation(ctx, s.tenant, id)
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
			m.rec.ReleaseOpen(ctx, s.tenant, s.user, rev)
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
	if err := m.rec.CreateConversation(ctx, c); err != nil {
		return err
	}
	if err := m.rec.PutParticipant(ctx, s.tenant, conv, s.me); err != nil {
		return err
	}
	// The dispatcher announces the opening (the `opened` event) when it reads this command:
	// gateways may not publish on the events subjects (deploy/natsauth).
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
	convs := make([]string, 0, len(sums))
	for _, c := range sums {
		convs = append(convs, c.GetConv())
	}
	unread, err := m.rec.Unread(ctx, s.tenant, s.user, convs, unreadTimeout)
	if err != nil {
		return
	}
	for _, c := range sums {
		if n, ok := unread[c.GetConv()]; ok {
			c.Unread = &n
		}
	}
}

// unreadTimeout bounds the unread query of welcome.
const unreadTimeout = 300 * time.Millisecond
