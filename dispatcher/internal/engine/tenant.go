package engine

import (
	"cmp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// A tenant's dispatch is split by responsibility:
//
//	tenant.go       the actor's state and the tenant's settings
//	actor.go        the actor loop: inputs, timers, graceful stop
//	rebuild.go      restoring the state from JetStream at takeover, repairing what a dead owner left
//	intake.go       commands in: order, idempotence, retries, dead letters
//	transitions.go  what to do, as pure functions (conversation, command, now) -> effects
//	effects.go      the effects a transition can ask for
//	apply.go        doing it: the effects over NATS and on memory, errors returned
//	outbox.go       events waiting for JetStream, retried with backoff
//	match.go        assigning and offering waiting conversations, the routing hook
//	notify.go       telling customers and agents, the coalesced round, metrics

type presenceIn struct {
	p   *fd.SessionPresence
	ttl time.Duration
	at  time.Time
}

// convState is a conversation the tenant actor manages (queued or assigned), with the KV
// revision it last read or wrote.
type convState struct {
	c          *fd.Conversation
	rev        uint64
	cmd        uint64
	assignedAt time.Time
}

// tenant is the actor owning one tenant's dispatch state: every input (commands, presence,
// timers) is handled on its goroutine, so the state needs no locks and decisions are made in
// a single order.
type tenant struct {
	e    *Engine
	id   string
	part int
	log  *zap.Logger
	cfg  *fd.Tenant
	d    *assign.Dispatch

	convs        map[string]*convState
	cursor       uint64
	saved        uint64
	dirtyAgents  map[string]bool
	fresh        []string
	tellDirty    bool
	lastFlush    time.Time
	lastOverview *fd.ServerFrame
	overviewAt   time.Time
	lastBoard    *fd.Board // board.go
	boardAt      time.Time
	gauged       map[string]bool
	// out holds events JetStream refused, for retry; stalled the command that failed, whose
	// retry waits for its time while the actor goes on with everything but later commands.
	out     outbox
	stalled *pendingCommand
	// inbox holds the commands taken from the consumer and not applied yet (batch.go); io
	// the NATS effects of the group being carried out, nil outside a group.
	inbox []jetstream.Msg
	io    *ioBatch
	// sla holds the service-level clocks (sla.go).
	sla slaClocks
	// csat tallies today's ratings for the board (slaboard.go).
	csat csatDay
	// stated is each agent's state as last published (occupancy.go); reset at takeover.
	stated      map[string]agentState
	statements  map[string]statement
	statedRetry time.Time

	pres chan presenceIn
	cmds chan jetstream.Msg
	done chan struct{}
}

func newTenant(e *Engine, id string, part int) *tenant {
	d := assign.New(e.set.StarveAfter)
	d.Handle = assign.NewRate(e.set.HandlePrior)
	return &tenant{e: e, id: id, part: part, log: e.log.With(zap.String("tenant", id)), d: d,
		convs: map[string]*convState{}, dirtyAgents: map[string]bool{}, gauged: map[string]bool{},
		pres: make(chan presenceIn, 1024), cmds: make(chan jetstream.Msg, maxGroup), done: make(chan struct{})}
}

// presence hands a heartbeat to the actor (from the subscription goroutine).
func (t *tenant) presence(in presenceIn) {
	select {
	case t.pres <- in:
	case <-t.done:
	}
}

func (t *tenant) refreshConfig() {
	cfg, ok := t.e.tenants.Get(t.id)
	if !ok || cfg == t.cfg {
		return
	}
	t.cfg = cfg
	r := cfg.GetRouting()
	t.d.Policy = cmp.Or(r.GetPolicy(), assign.LeastBusy)
	t.d.Offer = r.GetOfferAccept()
	t.d.Agents.MaxChats = int(cfg.GetMaxChats())
	t.tellDirty = true
}

func (t *tenant) grace() time.Duration {
	if g := t.cfg.GetAgentOfflineGraceS(); g > 0 {
		return time.Duration(g) * time.Second
	}
	return t.e.set.Grace
}

func (t *tenant) offerTimeout() time.Duration {
	if s := t.cfg.GetRouting().GetOfferTimeoutS(); s > 0 {
		return time.Duration(s) * time.Second
	}
	return t.e.set.OfferTimeout
}

func (t *tenant) maxMissed() int {
	if k := t.cfg.GetRouting().GetMaxMissedOffers(); k > 0 {
		return int(k)
	}
	return t.e.set.MaxMissedOffers
}

// rules are the inputs of transitions that the tenant holds: its settings and its agents as
// transfer targets.
func (t *tenant) rules() rules {
	return rules{cfg: t.cfg, target: func(id string) (assign.Refusal, *fd.Participant) {
		a := t.d.Agents.Get(id)
		why := t.d.Agents.TransferTarget(a)
		if a == nil {
			return why, nil
		}
		return why, participant(a)
	}}
}

// view is cs as a transition sees it: the truth and its place in memory.
func (t *tenant) view(cs *convState) conversation {
	cv := conversation{c: cs.c, cmd: cs.cmd}
	if e := t.d.Q.Get(cs.c.GetConv()); e != nil {
		cv.inLine = true
		if a := t.d.Agents.Get(e.Offered); a != nil && a.Offers[e.Conv] {
			cv.offeredTo = a.ID
		}
	}
	return cv
}

func participant(a *assign.Agent) *fd.Participant {
	return &fd.Participant{Id: a.ID, Role: frames.RoleAgent, Name: a.Name}
}
