package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/sla"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Service levels. The tenant actor keeps a clock per managed conversation (queued or
// assigned) and announces what sla.Check decides as events on the conversation's subject:
// sla_at_risk and sla_breached, reason the target, due_at when it passes. Gateways turn them
// into sla frames for the agents and supervisors following the conversation; the persister
// counts the breaches in reports.
//
// The first-response clock stops at the first human message. The dispatcher learns of it from
// the messages the stream republishes: each tenant actor subscribes to its own tenant's
// deliver subjects (slaboard.go), so a replica never sees the tenants it does not own, and
// notes human replies only when its tenant has a policy.
//
// A clock starts when the conversation entered a queue (its queued_at). A replica taking a
// tenant over does not know which assigned conversations were answered before: their
// first-response clocks count as stopped (a breach missed rather than one made up), and the
// clocks of re-queued conversations restart from their last entry into a queue. An
// announcement already made is deduplicated by its event id (revision 0, type and target)
// within the stream's duplicate window.

// slaEvery bounds how often the actor looks at the clocks: targets are minutes, and looking
// at every managed conversation each tick would cost the dispatcher's hottest loop.
const slaEvery = time.Second

// slaClocks is the tenant actor's service-level state. Only on, replied and lastCustomer are
// touched by another goroutine (the deliver subscription).
type slaClocks struct {
	clocks map[string]*sla.Clock
	last   time.Time
	next   time.Time
	seeded bool

	// on says the tenant has a policy: messages are looked at only then.
	on atomic.Bool
	mu sync.Mutex
	// replied are the conversations in which a human wrote (pruned to the managed ones).
	replied map[string]bool
	// lastCustomer is when each conversation's customer last wrote (pruned likewise).
	lastCustomer map[string]time.Time
}

// noteMessage looks at a message republished in conv: a customer's is when they last wrote
// (the board's last_customer_at), a human's stops the first-response clock, looked at only
// when the tenant has a policy. It runs on the tenant's deliver subscription (slaboard.go).
func (s *slaClocks) noteMessage(conv string, data []byte) {
	role, at, ok := peekMessage(data)
	if !ok {
		return
	}
	switch string(role) {
	case frames.RoleCustomer:
		if at.IsZero() {
			at = time.Now()
		}
		s.noteCustomer(conv, at)
		return
	case frames.RoleAgent, frames.RoleSupervisor:
	default:
		return
	}
	if !s.on.Load() {
		return
	}
	s.mu.Lock()
	if s.replied == nil {
		s.replied = map[string]bool{}
	}
	s.replied[conv] = true
	s.mu.Unlock()
}

// slaTick syncs the clocks with the managed conversations and announces what is due. It runs
// on the actor.
func (t *tenant) slaTick(ctx context.Context, now time.Time) {
	s := &t.sla
	if now.Sub(s.last) < slaEvery && (s.next.IsZero() || now.Before(s.next)) {
		return
	}
	s.last = now
	if s.clocks == nil {
		s.clocks = map[string]*sla.Clock{}
	}
	active := t.cfg.GetServiceLevel() != nil
	for _, q := range t.cfg.GetQueues() {
		active = active || q.GetServiceLevel() != nil
	}
	s.on.Store(active)
	s.mu.Lock()
	replied := make(map[string]bool, len(s.replied))
	for conv := range s.replied {
		if t.convs[conv] == nil {
			delete(s.replied, conv)
		} else {
			replied[conv] = true
		}
	}
	for conv := range s.lastCustomer {
		if t.convs[conv] == nil {
			delete(s.lastCustomer, conv)
		}
	}
	s.mu.Unlock()
	for conv := range s.clocks {
		if t.convs[conv] == nil { // closed, or back with the bot
			delete(s.clocks, conv)
		}
	}
	s.next = time.Time{}
	for conv, cs := range t.convs {
		p := sla.PolicyFor(t.cfg, cs.c.GetQueue())
		c := s.clocks[conv]
		if c == nil {
			if !p.Active() {
				continue
			}
			// At takeover (the first look), an assigned conversation may have been answered.
			answered := !s.seeded && cs.c.GetState() == frames.StateAssigned
			c = &sla.Clock{Start: slaStart(cs.c, now), Replied: answered}
			s.clocks[conv] = c
		}
		if replied[conv] {
			c.Replied = true
		}
		next, signals, due := sla.Check(*c, p, now)
		*c = next
		for _, sig := range signals {
			t.announceSLA(ctx, cs, sig, now)
		}
		if !due.IsZero() && (s.next.IsZero() || due.Before(s.next)) {
			s.next = due
		}
	}
	s.seeded = true
}

// slaStart is when a conversation's clocks start: when it entered a queue, as the record says.
func slaStart(c *fd.Conversation, now time.Time) time.Time {
	for _, ts := range []*timestamppb.Timestamp{c.GetQueuedAt(), c.GetOpenedAt()} {
		if ts.IsValid() && ts.AsTime().Unix() > 0 {
			return ts.AsTime()
		}
	}
	return now
}

// announceSLA publishes the event of sig (through the outbox, behind the conversation's
// waiting events).
func (t *tenant) announceSLA(ctx context.Context, cs *convState, sig sla.Signal, now time.Time) {
	conv := cs.c.GetConv()
	typ := sla.EventType(sig)
	id := subjects.EventID(t.id, conv, 0, typ+"."+sig.Target)
	ev := &fd.ConversationEvent{Id: id, Tenant: t.id, Conv: conv, Type: typ, State: cs.c.GetState(), Revision: cs.rev,
		Customer: cs.c.GetCustomer(), Agent: cs.c.GetAgent(), Queue: cs.c.GetQueue(), Reason: sig.Target,
		At: timestamppb.New(now), DueAt: timestamppb.New(sig.Due)}
	data, err := proto.Marshal(ev)
	if err != nil {
		t.log.Error("service level event", zap.String("conv", conv), zap.Error(err))
		return
	}
	if err := t.sendEvent(ctx, pendingEvent{conv: conv, id: id, typ: typ, data: data}); err != nil {
		t.log.Debug("service level event waits", zap.String("conv", conv), zap.Error(err))
	}
	t.log.Info("service level", zap.String("conv", conv), zap.String("target", sig.Target), zap.String("state", sig.State))
}
