package engine

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/hours"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// Telling customers and agents: positions and wait estimates, notices, the tenant overview,
// and the coalesced round that sends them and saves the actor's progress.

// send tells a user a frame. Frames are best effort (core NATS: a user without a gateway
// gets nothing, and the next state change or round tells them again): a failure is logged.
func (t *tenant) send(user string, f *fd.ServerFrame) {
	if err := t.frame(context.Background(), user, f); err != nil {
		t.log.Debug("frame", zap.String("user", user), zap.Error(err))
	}
}

// tellFresh tells customers who just entered a queue their position and, when nobody will
// come soon, why, so they are not left waiting blind.
func (t *tenant) tellFresh() {
	if len(t.fresh) == 0 {
		return
	}
	now := time.Now()
	open, err := hours.Open(t.cfg.GetHours(), now)
	if err != nil {
		t.log.Warn("business hours", zap.Error(err))
	}
	for _, conv := range t.fresh {
		e := t.d.Q.Get(conv)
		if e == nil {
			continue // assigned already
		}
		svc := t.d.ServiceFor(e.Needs)
		t.tell(e, int32(t.d.Q.Position(conv)), svc, t.d.Handle.Mean())
		switch {
		case !open:
			t.notice(e, frames.ReasonOutsideHours)
		case svc.Slots == 0 && time.Since(t.e.started) >= t.e.set.PresenceTTL:
			// A replica that just started has not heard every heartbeat yet: no claim that
			// nobody is there until a full heartbeat period has passed.
			t.notice(e, frames.ReasonNoAgents)
		}
	}
	t.fresh = t.fresh[:0]
}

func (t *tenant) notice(e *queue.Entry, reason string) {
	text, actions := customerNotice(reason, tenants.BotEnabled(t.cfg))
	t.send(e.Customer, &fd.ServerFrame{Type: frames.TypeNotice, Conv: e.Conv, Reason: reason, Message: text,
		Actions: actions, Ts: frames.Timestamp(time.Now())})
}

// customerNotice is the English sentence and the actions of a notice to a queued customer.
// The assistant is offered, and mentioned, only when the tenant's bot is on: going back to a
// bot that is off would leave the customer talking to nobody.
func customerNotice(reason string, bot bool) (string, []string) {
	var text, orBot string
	switch reason {
	case frames.ReasonOutsideHours:
		text, orBot = "We are closed right now. Leave a message and we will answer when we are back", ", or keep chatting with the assistant"
	case frames.ReasonNoAgents:
		text, orBot = "No agent is available right now. Leave a message and we will get back to you", ", or keep chatting with the assistant"
	case frames.ReasonMaxWait:
		text, orBot = "Sorry for the wait. You can leave a message and we will get back to you", ", or go back to the assistant"
	case frames.ReasonBotUnavailable:
		// The refusal of a to_bot: offering the assistant again would loop.
		return "The assistant is not available. You keep your place in the queue, or you can leave a message.",
			[]string{frames.ActionLeaveMessage}
	}
	if bot {
		return text + orBot + ".", []string{frames.ActionLeaveMessage, frames.ActionBot}
	}
	return text + ".", []string{frames.ActionLeaveMessage}
}

func (t *tenant) tell(e *queue.Entry, pos int32, svc assign.Service, handle time.Duration) {
	f := &fd.ServerFrame{Type: frames.TypeQueued, Conv: e.Conv, Position: &pos, Queue: e.Queue}
	eta := int32(-1)
	if d, ok := assign.ETA(int(pos), svc, handle); ok {
		eta = int32((d + time.Second - 1) / time.Second)
		f.EtaS = &eta
	}
	e.ToldPos, e.ToldETA = pos, eta
	t.send(e.Customer, f)
}

// worthTelling limits updates for long queues: the first places hear every move, further
// back a customer hears when their place moved by a tenth or their wait estimate by a
// minute and a quarter.
func worthTelling(e *queue.Entry, pos, eta int32) bool {
	if e.ToldPos == 0 {
		return true
	}
	if pos != e.ToldPos && (pos <= 20 || abs(pos-e.ToldPos)*10 >= e.ToldPos) {
		return true
	}
	if (eta < 0) != (e.ToldETA < 0) {
		return true
	}
	d := abs(eta - e.ToldETA)
	return eta >= 0 && d >= 60 && d*4 >= e.ToldETA
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// flush sends coalesced position updates, max-wait notices and the tenant overview, and
// saves the cursor and agent records.
func (t *tenant) flush(ctx context.Context, now time.Time) {
	t.lastFlush = now
	maxWait := map[string]time.Duration{}
	for _, q := range t.cfg.GetQueues() {
		if q.GetMaxWaitS() > 0 {
			maxWait[q.GetName()] = time.Duration(q.GetMaxWaitS()) * time.Second
		}
	}
	if t.tellDirty || len(maxWait) > 0 {
		handle := t.d.Handle.Mean()
		svcs := map[string]assign.Service{}
		t.d.Q.Each(func(e *queue.Entry, pos int) bool {
			if t.tellDirty {
				key := strings.Join(e.Needs, ",")
				svc, ok := svcs[key]
				if !ok {
					svc = t.d.ServiceFor(e.Needs)
					svcs[key] = svc
				}
				eta := int32(-1)
				if d, ok := assign.ETA(pos, svc, handle); ok {
					eta = int32((d + time.Second - 1) / time.Second)
				}
				if worthTelling(e, int32(pos), eta) {
					t.tell(e, int32(pos), svc, handle)
				}
			}
			if mw, ok := maxWait[e.Queue]; ok && !e.MaxWaitNoticed && now.Sub(e.Since) >= mw {
				e.MaxWaitNoticed = true
				t.notice(e, frames.ReasonMaxWait)
			}
			return true
		})
		t.tellDirty = false
	}
	counts := t.d.Agents.Counts()
	av, ql := int32(counts.Routable), int32(t.d.Q.Len())
	// On change, and every ten rounds anyway so consoles that just connected catch up.
	if t.lastOverview == nil || t.lastOverview.GetAgentsAvailable() != av || t.lastOverview.GetQueueLength() != ql ||
		now.Sub(t.overviewAt) >= 10*t.e.set.Coalesce {
		f := &fd.ServerFrame{Type: frames.TypePresence, AgentsAvailable: &av, QueueLength: &ql}
		data, _ := proto.Marshal(f)
		if err := t.e.nc.Publish(subjects.Overview(t.id), data); err == nil {
			t.lastOverview, t.overviewAt = f, now
		}
	}
	t.publishBoard(now)       // board.go
	t.publishAgentStatus(now) // occupancy.go
	t.gauges(now, counts)
	t.persist(ctx)
}

func (t *tenant) gauges(now time.Time, c assign.Counts) {
	m := t.e.m
	m.agents.WithLabelValues(t.id, frames.StatusAvailable).Set(float64(c.Available))
	m.agents.WithLabelValues(t.id, frames.StatusAway).Set(float64(c.Away))
	m.agents.WithLabelValues(t.id, frames.StatusOffline).Set(float64(c.Offline))
	m.agents.WithLabelValues(t.id, "routable").Set(float64(c.Routable))
	m.waiting.WithLabelValues(t.id).Set(float64(t.out.len()))
	stats := t.d.Q.Stats()
	for q := range t.gauged {
		if _, ok := stats[q]; !ok {
			m.queueLen.WithLabelValues(t.id, q).Set(0)
			m.oldestWait.WithLabelValues(t.id, q).Set(0)
		}
	}
	for q, s := range stats {
		t.gauged[q] = true
		m.queueLen.WithLabelValues(t.id, q).Set(float64(s.Len))
		m.oldestWait.WithLabelValues(t.id, q).Set(now.Sub(s.Oldest).Seconds())
	}
}
