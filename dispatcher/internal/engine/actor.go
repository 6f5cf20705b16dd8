package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// run is the actor: it rebuilds the tenant's state, then handles commands, presence and
// timers one at a time until ctx ends or the partition's lease is no longer valid.
func (t *tenant) run(ctx context.Context) {
	defer close(t.done)
	t.refreshConfig()
	for {
		err := t.rebuild(ctx)
		if err == nil {
			break
		}
		t.log.Warn("rebuild failed, retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.ConvCommands(t.id, "*"), subjects.AgentCommands(t.id, "*")},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if t.cursor > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, t.cursor+1
	}
	cons, err := t.e.js.OrderedConsumer(ctx, subjects.StreamCommands, cfg)
	if err != nil {
		t.log.Error("commands consumer", zap.Error(err))
		return
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		select {
		case t.cmds <- msg:
		case <-ctx.Done():
		}
	})
	if err != nil {
		t.log.Error("consume commands", zap.Error(err))
		return
	}
	defer cc.Stop()
	// The tenant's republished messages: customers' for the board, humans' replies for the
	// service-level clocks (slaboard.go).
	stopWatch, err := t.watchDeliveries()
	if err != nil {
		t.log.Error("subscribe deliveries", zap.Error(err))
		return
	}
	defer stopWatch()
	t.log.Info("dispatching", zap.Int("partition", t.part), zap.Uint64("cursor", t.cursor),
		zap.Int("queued", t.d.Q.Len()), zap.Int("managed", len(t.convs)))

	tick := time.NewTicker(t.e.set.Tick)
	defer tick.Stop()
	for {
		// A command waiting for its retry holds the later ones back (commands apply in stream
		// order); presence and timers go on.
		cmds := t.cmds
		if t.stalled != nil {
			cmds = nil
		}
		select {
		case <-ctx.Done():
			t.final()
			return
		case msg := <-cmds:
			if !t.owned() {
				return
			}
			// Take what has arrived with it, to apply as groups (batch.go).
			t.inbox = append(t.inbox, msg)
			for drained := false; !drained && len(t.inbox) < maxGroup; {
				select {
				case msg := <-t.cmds:
					t.inbox = append(t.inbox, msg)
				default:
					drained = true
				}
			}
		case in := <-t.pres:
			t.observe(in.p, in.ttl, in.at)
		case <-tick.C:
			if !t.owned() {
				return
			}
			t.refreshConfig()
			t.tick(ctx, time.Now())
		}
		if !t.owned() {
			return
		}
		// One round: the commands that arrived and the matches they allow, their NATS
		// effects carried out together at the end (batch.go).
		t.io = newIOBatch()
		t.intake(ctx)
		t.match(ctx)
		t.flushIO(ctx)
		t.tellFresh()
	}
}

func (t *tenant) owned() bool { return t.e.leases.Valid(t.part) }

// final saves the cursor and agents and makes a last attempt at waiting events on a graceful
// stop, while the lease still holds.
func (t *tenant) final() {
	if !t.owned() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t.persist(ctx)
	// Then the waiting events, on their own deadline: the cursor and the agents come first,
	// as the next owner has no other way to know them, while it repairs the latest event of
	// each conversation anyway.
	if t.out.len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t.flushOutbox(ctx, time.Now())
	}
}

func (t *tenant) observe(p *fd.SessionPresence, ttl time.Duration, now time.Time) {
	if !subjects.ValidToken(p.GetUser()) {
		return
	}
	changed := t.d.Agents.Observe(assign.Heartbeat{Agent: p.GetUser(), Name: p.GetName(), Session: p.GetSession(),
		Online: p.GetOnline(), TTL: ttl, Skills: p.GetSkills(), MaxChats: int(p.GetMaxChats())}, now)
	if changed {
		t.tellDirty = true
	}
}

// tick runs the timers: a stalled command's retry, waiting events, expired sessions, agents
// gone past their grace period, offers not accepted in time, and the coalesced round.
func (t *tenant) tick(ctx context.Context, now time.Time) {
	if t.stalled != nil && !now.Before(t.stalled.at) {
		t.retryStalled(ctx, now)
	}
	if t.out.ready(now) {
		t.flushOutbox(ctx, now)
	}
	// Heartbeats that arrived while a long round was carried out count before sessions
	// expire: otherwise a burst makes every agent look gone at the next tick.
	for drained := false; !drained; {
		select {
		case in := <-t.pres:
			t.observe(in.p, in.ttl, in.at)
		default:
			drained = true
		}
	}
	if len(t.d.Agents.Expire(now)) > 0 {
		t.tellDirty = true
	}
	for _, a := range t.d.Agents.GoneOffline(now, t.grace()) {
		t.tellDirty = true
		t.agentLost(ctx, a, now)
	}
	for _, x := range t.d.Expired(now, t.offerTimeout()) {
		if t.offerExpired(x[0], x[1]) {
			t.announceOffer(ctx, t.convs[x[1]], x[0], frames.EventOfferMissed, now) // offers.go
		}
	}
	t.slaTick(ctx, now)
	if now.Sub(t.lastFlush) >= t.e.set.Coalesce {
		t.flush(ctx, now)
	}
}

// agentLost re-queues the conversations of an agent without a session for the grace period,
// oldest assignment first so they keep their relative order at the front.
func (t *tenant) agentLost(ctx context.Context, a *assign.Agent, now time.Time) {
	convs := make([]string, 0, len(a.Active))
	for conv := range a.Active {
		convs = append(convs, conv)
	}
	at := func(conv string) time.Time {
		if cs := t.convs[conv]; cs != nil {
			return cs.assignedAt
		}
		return time.Time{}
	}
	slices.SortFunc(convs, func(x, y string) int { return cmp.Or(at(x).Compare(at(y)), cmp.Compare(x, y)) })
	for _, conv := range convs {
		cs := t.convs[conv]
		if cs == nil {
			continue
		}
		d := t.rules().requeue(t.view(cs), frames.ReasonAgentOffline, now)
		if err := t.committed(t.carryOut(ctx, cs, d, now), conv); err != nil {
			t.log.Warn("requeue", zap.String("conv", conv), zap.Error(err))
		}
	}
	for conv := range a.Offers {
		t.d.Withdraw(a.ID, conv, false)
	}
	t.log.Info("agent offline, conversations re-queued", zap.String("agent", a.ID), zap.Int("conversations", len(convs)))
}

// offerExpired withdraws an offer not accepted in time and, after too many, sets the agent
// away. It reports whether there was such an offer.
func (t *tenant) offerExpired(agent, conv string) bool {
	if !t.d.Withdraw(agent, conv, true) {
		return false
	}
	a := t.d.Agents.Get(agent)
	t.dirtyAgents[agent] = true
	t.send(agent, &fd.ServerFrame{Type: frames.TypeNotice, Conv: conv, Reason: frames.ReasonOfferTimeout,
		Message: "The offer expired and went to another agent."})
	if a.Missed >= t.maxMissed() && a.Status == frames.StatusAvailable {
		a.Status = frames.StatusAway
		t.tellDirty = true
		t.send(agent, &fd.ServerFrame{Type: frames.TypeNotice, Reason: frames.ReasonAwayMissedOffers,
			Message: fmt.Sprintf("You were set to away after %d missed offers.", a.Missed)})
		t.log.Info("agent set away after missed offers", zap.String("agent", agent), zap.Int("missed", a.Missed))
	}
	return true
}

// flushOutbox retries the events JetStream refused.
func (t *tenant) flushOutbox(ctx context.Context, now time.Time) {
	if t.out.len() == 0 {
		return
	}
	sent, err := t.out.flush(now, func(pe pendingEvent) error { return t.publishEvent(ctx, pe) })
	if err != nil {
		t.log.Warn("events still waiting", zap.Int("sent", sent), zap.Int("waiting", t.out.len()),
			zap.Duration("retry_in", t.out.delay), zap.Error(err))
		return
	}
	t.log.Info("waiting events stored", zap.Int("sent", sent))
}

// persist saves the command cursor and changed agents. Saving after the effects means a
// crash replays at most the last interval's commands, which are idempotent.
func (t *tenant) persist(ctx context.Context) {
	if t.cursor != t.saved {
		if _, err := t.e.disp.Put(ctx, cursorKey(t.id), []byte(fmt.Sprint(t.cursor))); err != nil {
			t.log.Debug("save cursor", zap.Error(err))
		} else {
			t.saved = t.cursor
		}
	}
	for id := range t.dirtyAgents {
		if a := t.d.Agents.Get(id); a != nil {
			if err := t.saveAgent(ctx, a); err != nil {
				t.log.Debug("save agent", zap.Error(err))
			}
		}
	}
	if err := t.saveCsat(ctx, time.Now()); err != nil { // csat.go
		t.log.Debug("checkpoint ratings of the day", zap.Error(err))
	}
}

func (t *tenant) saveAgent(ctx context.Context, a *assign.Agent) error {
	rec := agentRecord{Name: a.Name, Status: a.Status, MaxChats: a.MaxChats, Skills: a.Skills,
		LastAssigned: a.LastAssigned, Missed: a.Missed}
	if _, err := t.e.disp.Put(ctx, agentRecordKey(t.id, a.ID), mustJSON(rec)); err != nil {
		return fmt.Errorf("save agent %s: %w", a.ID, err)
	}
	delete(t.dirtyAgents, a.ID)
	return nil
}
