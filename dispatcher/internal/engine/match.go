package engine

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// match gives waiting conversations to routable agents (or offers them) until no match is
// left, then stops at the first failure: the next input tries again.
func (t *tenant) match(ctx context.Context) {
	if t.d.Q.Len() == 0 {
		return
	}
	choose := t.chooser()
	for t.matchGroup(ctx, choose) {
	}
}

// assign commits the decision that e goes to a (already applied in memory by package
// assign), deciding again after a concurrent change while the conversation still waits.
func (t *tenant) assign(ctx context.Context, e *queue.Entry, a *assign.Agent, now time.Time) error {
	cs := t.convs[e.Conv]
	if cs == nil {
		t.d.Release(a.ID, e.Conv)
		return errStale
	}
	for attempt := 0; ; attempt++ {
		d := t.rules().assignTo(t.view(cs), participant(a), now)
		if d.next() == nil {
			// Someone else moved it: a previous owner's last write landing after the lease
			// changed hands, which the revision fenced out. Follow the truth.
			t.d.Release(a.ID, e.Conv)
			switch cs.c.GetState() {
			case frames.StateAssigned:
				t.d.Agents.Ensure(cs.c.GetAgent().GetId()).Active[e.Conv] = true
				cs.assignedAt = cs.c.GetAssignedAt().AsTime()
			default:
				delete(t.convs, e.Conv)
			}
			return errStale
		}
		err := t.committed(t.carryOut(ctx, cs, d, now), e.Conv)
		if err == nil {
			break
		}
		if !errors.Is(err, errConflict) || attempt >= 3 {
			return err
		}
	}
	t.assigned(e, a, now)
	return nil
}

// assigned records a committed assignment of e to a.
func (t *tenant) assigned(e *queue.Entry, a *assign.Agent, now time.Time) {
	t.dirtyAgents[a.ID] = true
	t.tellDirty = true
	t.e.m.assignments.WithLabelValues(t.id).Inc()
	t.e.m.timeToAssign.WithLabelValues(t.id).Observe(now.Sub(e.Since).Seconds())
}

// accept turns agent's offer of cs into an assignment; a failure puts the offer's
// conversation back in line as it was, so the agent may accept again or get a new offer.
func (t *tenant) accept(ctx context.Context, cs *convState, agent string, now time.Time) error {
	e := t.d.Accept(agent, cs.c.GetConv(), now)
	if e == nil {
		return nil
	}
	a := t.d.Agents.Get(agent)
	a.Missed = 0
	t.dirtyAgents[agent] = true
	if err := t.assign(ctx, e, a, now); err != nil {
		if !errors.Is(err, errStale) {
			t.d.Release(agent, e.Conv)
			e.Offered = ""
			t.d.Q.Push(e)
		}
		return err
	}
	return nil
}

func (t *tenant) offer(e *queue.Entry, a *assign.Agent) {
	cs := t.convs[e.Conv]
	if cs == nil {
		return
	}
	secs := int32(t.offerTimeout() / time.Second)
	t.send(a.ID, &fd.ServerFrame{Type: frames.TypeOffer, Conv: e.Conv, Customer: cs.c.GetCustomer(),
		Summary: cs.c.GetSummary(), Queue: cs.c.GetQueue(), EtaS: &secs, Ts: frames.Timestamp(time.Now())})
}

// chooser asks the tenant's routing hook, if enabled, to choose among the candidates the
// built-in policy ordered. No answer in time, or an answer naming no candidate, falls back
// to the policy.
func (t *tenant) chooser() assign.Chooser {
	r := t.cfg.GetRouting()
	if !r.GetHook() {
		return nil
	}
	timeout := t.e.set.HookTimeout
	if ms := r.GetHookTimeoutMs(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	return func(e *queue.Entry, cands []*assign.Agent) *assign.Agent {
		cs := t.convs[e.Conv]
		req := &fd.RouteRequest{Tenant: t.id, Conv: e.Conv, Queue: e.Queue, Skills: e.Needs, Priority: e.Priority}
		if cs != nil {
			req.Customer = cs.c.GetCustomer()
		}
		for _, a := range cands {
			c := &fd.AgentCandidate{Id: a.ID, Name: a.Name, ActiveChats: int32(a.Load()),
				MaxChats: int32(t.d.Agents.Capacity(a)), Skills: a.Skills}
			if !a.LastAssigned.IsZero() {
				c.LastAssignedAt = timestamppb.New(a.LastAssigned)
			}
			req.Candidates = append(req.Candidates, c)
		}
		data, _ := proto.Marshal(req)
		msg, err := t.e.nc.Request(subjects.Route(t.id), data, timeout)
		var rep fd.RouteReply
		if err != nil || proto.Unmarshal(msg.Data, &rep) != nil || rep.GetAgent() == "" {
			t.e.m.hook.WithLabelValues("fallback").Inc()
			return nil
		}
		for _, a := range cands {
			if a.ID == rep.GetAgent() {
				t.e.m.hook.WithLabelValues("chosen").Inc()
				return a
			}
		}
		t.e.m.hook.WithLabelValues("fallback").Inc()
		return nil
	}
}

// matchGroup assigns up to maxGroup waiting conversations at once: the matches are made in
// memory one after the other (package assign), their compare-and-sets concurrently, then
// the rest in order. It reports whether matching should go on.
func (t *tenant) matchGroup(ctx context.Context, choose assign.Chooser) bool {
	now := time.Now()
	var g []*grouped
	for len(g) < maxGroup {
		m, ok := t.d.Next(now, choose)
		if !ok {
			break
		}
		if m.Offer {
			t.offer(m.Entry, m.Agent)
			continue
		}
		cs := t.convs[m.Entry.Conv]
		d := decision{}
		if cs != nil {
			d = t.rules().assignTo(t.view(cs), participant(m.Agent), now)
		}
		if d.next() == nil {
			// Gone or moved: the serial path follows the truth.
			_ = t.assign(ctx, m.Entry, m.Agent, now)
			continue
		}
		g = append(g, &grouped{m: m, cs: cs, d: d})
	}
	if len(g) == 0 {
		return false
	}
	t.commitGroup(ctx, g)
	var undo []assign.Match
	for _, x := range g {
		err := x.err
		if err == nil {
			t.wrote(x.cs, x.d.next(), now)
			err = t.committed(t.carryOut(ctx, x.cs, decision{effects: x.d.effects[1:]}, now), x.m.Entry.Conv)
			if err == nil {
				t.assigned(x.m.Entry, x.m.Agent, now)
				continue
			}
		}
		if errors.Is(err, errConflict) {
			// Decide again on the fresh truth, alone.
			err = t.assign(ctx, x.m.Entry, x.m.Agent, now)
		}
		if err != nil && !errors.Is(err, errStale) {
			undo = append(undo, x.m)
			t.log.Warn("assign failed", zap.String("conv", x.m.Entry.Conv), zap.String("agent", x.m.Agent.ID), zap.Error(err))
		}
	}
	// In reverse, so an agent matched twice gets back what it had before the first.
	for i := len(undo) - 1; i >= 0; i-- {
		t.d.Undo(undo[i])
	}
	return len(undo) == 0 && len(g) == maxGroup
}
