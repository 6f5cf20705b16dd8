package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/hours"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// Command types (proto/frontdesk/v1/dispatch.proto).
const (
	cmdOpen         = "open"
	cmdHandoff      = "handoff"
	cmdTransfer     = "transfer"
	cmdClose        = "close"
	cmdAccept       = "accept"
	cmdDecline      = "decline"
	cmdLeaveMessage = "leave_message"
	cmdToBot        = "to_bot"
	cmdStatus       = "status"
)

// Event types (proto/frontdesk/v1/conversation.proto).
const (
	evQueued      = "queued"
	evAssigned    = "assigned"
	evTransferred = "transferred"
	evRequeued    = "requeued"
	evClosed      = "closed"
	evState       = "state"
	evMessageLeft = "message_left"
)

// Reasons.
const (
	reasonAgentOffline   = "agent_offline"
	reasonTransfer       = "transfer"
	reasonOfferTimeout   = "offer_timeout"
	reasonOutsideHours   = "outside_hours"
	reasonNoAgents       = "no_agents"
	reasonMaxWait        = "max_wait"
	reasonClosedByAgent  = "closed_by_agent"
	reasonClosedCustomer = "closed_by_customer"
	reasonToBot          = "to_bot"
	// reasonBotUnavailable refuses a customer's to_bot when the tenant's bot is off (a notice
	// sent before the bot was turned off, or a client that ignored the notice's actions).
	reasonBotUnavailable = "bot_unavailable"
	reasonTransferRefuse = "transfer_refused"
	// reasonAgentAway refuses a transfer to an agent who set themselves away: a reason of its
	// own, so a client can say why in its language.
	reasonAgentAway = "agent_away"
	// reasonAwayMissedOffers tells an agent the dispatcher set them away after unanswered offers.
	reasonAwayMissedOffers = "away_missed_offers"
)

var (
	errConflict = errors.New("conversation changed concurrently")
	errStale    = errors.New("conversation no longer queued")
)

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
	gauged       map[string]bool

	pres chan presenceIn
	cmds chan jetstream.Msg
	done chan struct{}
}

func newTenant(e *Engine, id string, part int) *tenant {
	d := assign.New(e.set.StarveAfter)
	d.Handle = assign.NewRate(e.set.HandlePrior)
	return &tenant{e: e, id: id, part: part, log: e.log.With(zap.String("tenant", id)), d: d,
		convs: map[string]*convState{}, dirtyAgents: map[string]bool{}, gauged: map[string]bool{},
		pres: make(chan presenceIn, 1024), cmds: make(chan jetstream.Msg, 256), done: make(chan struct{})}
}

// presence hands a heartbeat to the actor (from the subscription goroutine).
func (t *tenant) presence(in presenceIn) {
	select {
	case t.pres <- in:
	case <-t.done:
	}
}

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
	t.log.Info("dispatching", zap.Int("partition", t.part), zap.Uint64("cursor", t.cursor),
		zap.Int("queued", t.d.Q.Len()), zap.Int("managed", len(t.convs)))

	tick := time.NewTicker(t.e.set.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.final()
			return
		case msg := <-t.cmds:
			if !t.owned() {
				return
			}
			t.command(ctx, msg)
		case in := <-t.pres:
			t.onPresence(in)
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
		t.match(ctx)
		t.tellFresh()
	}
}

func (t *tenant) owned() bool { return t.e.leases.Valid(t.part) }

// final saves the cursor and agents on a graceful stop, while the lease still holds.
func (t *tenant) final() {
	if !t.owned() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t.persist(ctx)
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

// ---- rebuild ----

// rebuild restores the tenant's state from JetStream: agent records and queue order from
// fd_dispatcher, each managed conversation's truth from fd_conversations, the command cursor,
// and live sessions from the replica's presence cache. It also repairs what a killed owner
// may have left half done (a missing event or participant key).
func (t *tenant) rebuild(ctx context.Context) error {
	t.d = assign.New(t.e.set.StarveAfter)
	t.d.Handle = assign.NewRate(t.e.set.HandlePrior)
	t.convs = map[string]*convState{}
	t.cfg = nil
	t.refreshConfig()
	agents, err := loadPrefix(ctx, t.e.disp, agentRecordFilter(t.id))
	if err != nil {
		return fmt.Errorf("load agents: %w", err)
	}
	for k, v := range agents {
		var rec agentRecord
		if json.Unmarshal(v, &rec) != nil {
			continue
		}
		a := t.d.Agents.Ensure(strings.TrimPrefix(k, "agent."+t.id+"."))
		a.Name, a.Status, a.MaxChats, a.Skills = rec.Name, rec.Status, rec.MaxChats, assign.Sorted(rec.Skills)
		a.LastAssigned, a.Missed = rec.LastAssigned, rec.Missed
		if a.Status == "" {
			a.Status = frames.StatusAway
		}
	}
	recs, err := loadPrefix(ctx, t.e.disp, convRecordFilter(t.id))
	if err != nil {
		return fmt.Errorf("load conversations: %w", err)
	}
	type waiting struct {
		cs  *convState
		rec convRecord
	}
	var queued []waiting
	now := time.Now()
	// Reading each conversation and its last event are independent round trips: do them
	// concurrently so a takeover of a busy tenant stays within seconds.
	type loaded struct {
		key string
		rec convRecord
		cs  *convState
		err error
	}
	items := make([]loaded, 0, len(recs))
	for k, v := range recs {
		it := loaded{key: k}
		_ = json.Unmarshal(v, &it.rec)
		items = append(items, it)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func(it *loaded) {
			defer wg.Done()
			defer func() { <-sem }()
			it.cs, it.err = t.fetch(ctx, strings.TrimPrefix(it.key, "conv."+t.id+"."))
			if it.err == nil && it.cs != nil {
				it.err = t.repair(ctx, it.cs)
			}
		}(&items[i])
	}
	wg.Wait()
	for _, it := range items {
		k, rec, cs := it.key, it.rec, it.cs
		if it.err != nil {
			return it.err
		}
		if cs == nil {
			_ = t.e.disp.Delete(ctx, k)
			continue
		}
		conv := cs.c.GetConv()
		cs.cmd = rec.Cmd
		switch cs.c.GetState() {
		case frames.StateQueued:
			queued = append(queued, waiting{cs, rec})
		case frames.StateAssigned:
			a := t.d.Agents.Ensure(cs.c.GetAgent().GetId())
			if a.Name == "" {
				a.Name = cs.c.GetAgent().GetName()
			}
			a.Active[conv] = true
			cs.assignedAt = cs.c.GetAssignedAt().AsTime()
			t.convs[conv] = cs
			t.putParticipant(ctx, conv, cs.c.GetAgent())
		case frames.StateClosed:
			t.cleanupClosed(ctx, cs, nil)
		default:
			_ = t.e.disp.Delete(ctx, k)
		}
	}
	slices.SortFunc(queued, func(a, b waiting) int {
		return cmp.Or(cmp.Compare(a.rec.Seq, b.rec.Seq), cmp.Compare(a.cs.c.GetConv(), b.cs.c.GetConv()))
	})
	for _, w := range queued {
		since := w.rec.Since
		if since.IsZero() {
			since = w.cs.c.GetQueuedAt().AsTime()
		}
		t.push(w.cs, w.rec.Front, since, w.rec.Seq)
	}
	if t.cursor, err = loadCursor(ctx, t.e.disp, t.id); err != nil {
		return fmt.Errorf("load cursor: %w", err)
	}
	t.saved = t.cursor
	for _, c := range t.e.pres.live(t.id, now) {
		t.observe(c.p, c.exp.Sub(now), now)
	}
	// Agents holding conversations with no session known here: the grace period starts now.
	t.d.Agents.Each(func(a *assign.Agent) {
		if !a.Online() && len(a.Active) > 0 {
			a.LostAt = now
		}
	})
	t.tellDirty = true
	return nil
}

// repair publishes the event of the conversation's current revision if the last event on its
// subject is older: the previous owner died between the KV update and the publish. The event
// id is derived from the revision, so a repair racing the original is deduplicated.
func (t *tenant) repair(ctx context.Context, cs *convState) error {
	conv := cs.c.GetConv()
	raw, err := t.e.events.GetLastMsgForSubject(ctx, subjects.Events(t.id, conv))
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("last event of %s: %w", conv, err)
	}
	if raw != nil {
		var ev fd.ConversationEvent
		if proto.Unmarshal(raw.Data, &ev) == nil && ev.GetRevision() >= cs.rev {
			return nil
		}
	}
	typ := map[string]string{frames.StateQueued: evQueued, frames.StateAssigned: evAssigned,
		frames.StateClosed: evClosed}[cs.c.GetState()]
	if typ == "" {
		typ = evState
	}
	t.log.Info("repairing missing event", zap.String("conv", conv), zap.String("type", typ), zap.Uint64("revision", cs.rev))
	t.event(ctx, cs, typ, "", func(*fd.ConversationEvent) {})
	return nil
}

// ---- commands ----

func (t *tenant) command(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	seq := md.Sequence.Stream
	if seq <= t.cursor {
		return
	}
	var c fd.Command
	parsed, perr := subjects.Parse(msg.Subject())
	if err := proto.Unmarshal(msg.Data(), &c); err != nil || perr != nil || parsed.Tenant != t.id {
		t.e.m.commands.WithLabelValues("invalid", "ignored").Inc()
		t.cursor = seq
		return
	}
	// The subject is authoritative: NATS permissions bind who may publish it.
	c.Tenant = t.id
	if parsed.Conv != "" {
		c.Conv = parsed.Conv
	}
	for attempt := 0; ; attempt++ {
		err = t.apply(ctx, seq, &c, parsed.User)
		if err == nil {
			break
		}
		if errors.Is(err, errConflict) && attempt < 5 {
			continue
		}
		t.e.m.commands.WithLabelValues(c.GetType(), "error").Inc()
		if attempt >= maxCommandAttempts {
			// A command that keeps failing while NATS answers would block the tenant forever:
			// park it for an operator and go on.
			if t.deadLetter(ctx, msg, seq, err) == nil {
				t.cursor = seq
				return
			}
		}
		t.log.Warn("command failed, retrying", zap.String("type", c.GetType()), zap.String("conv", c.GetConv()),
			zap.Uint64("seq", seq), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		if !t.owned() {
			return
		}
	}
	t.e.m.commands.WithLabelValues(c.GetType(), "applied").Inc()
	t.cursor = seq
}

// maxCommandAttempts bounds retries of one command (200 ms apart) before it is dead-lettered.
const maxCommandAttempts = 50

// deadLetter copies a command the dispatcher gave up on to the dead-letter stream.
func (t *tenant) deadLetter(ctx context.Context, msg jetstream.Msg, seq uint64, cause error) error {
	dl := &fd.DeadLetter{Service: "dispatcher", Stream: subjects.StreamCommands, Subject: msg.Subject(), Seq: seq,
		Reason: cause.Error(), Data: msg.Data(), At: timestamppb.Now()}
	data, _ := proto.Marshal(dl)
	m := nats.NewMsg(subjects.DeadLetters("dispatcher"))
	m.Data = data
	_, err := t.e.js.PublishMsg(ctx, m, jetstream.WithMsgID("dispatcher/"+strconv.FormatUint(seq, 10)))
	if err == nil {
		t.log.Error("command dead-lettered", zap.Uint64("seq", seq), zap.String("subject", msg.Subject()), zap.Error(cause))
	}
	return err
}

func (t *tenant) apply(ctx context.Context, seq uint64, c *fd.Command, agentSubject string) error {
	now := time.Now()
	if c.GetType() == cmdStatus {
		return t.status(ctx, c, cmp.Or(agentSubject, c.GetActor().GetId()))
	}
	if !subjects.ValidToken(c.GetConv()) {
		return nil
	}
	cs := t.convs[c.GetConv()]
	if cs == nil {
		var err error
		if cs, err = t.fetch(ctx, c.GetConv()); err != nil || cs == nil {
			return err // unknown conversation: nothing to do
		}
	}
	if cs.cmd >= seq {
		return nil // applied before a failover
	}
	state := cs.c.GetState()
	var err error
	switch c.GetType() {
	case cmdOpen, cmdHandoff:
		if state == frames.StateBot && c.GetType() == cmdOpen {
			return nil // the bot talks first; handoff brings it to us
		}
		if state == frames.StateBot || (state == frames.StateQueued && t.d.Q.Get(cs.c.GetConv()) == nil) {
			err = t.toQueue(ctx, cs, c, now)
		}
	case cmdClose:
		err = t.close(ctx, cs, c, now)
	case cmdTransfer:
		err = t.transfer(ctx, cs, c, seq, now)
	case cmdAccept:
		err = t.accept(ctx, cs, c.GetActor().GetId(), now)
	case cmdDecline:
		t.d.Withdraw(c.GetActor().GetId(), cs.c.GetConv(), false)
	case cmdLeaveMessage:
		err = t.leaveMessage(ctx, cs, c, now)
	case cmdToBot:
		err = t.toBot(ctx, cs, now)
	}
	if err == nil {
		cs.cmd = seq
	}
	return err
}

// fetch reads a conversation from fd_conversations (nil if it does not exist).
func (t *tenant) fetch(ctx context.Context, conv string) (*convState, error) {
	e, err := t.e.conv.Get(ctx, subjects.ConversationKey(t.id, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get conversation %s: %w", conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return nil, nil // not ours to fix; ignore
	}
	c.Conv = conv
	c.Tenant = t.id
	return &convState{c: c, rev: e.Revision()}, nil
}

// write updates the conversation with compare-and-set on the revision it was read at. On a
// conflict it reloads cs and returns errConflict for the caller to decide again.
func (t *tenant) write(ctx context.Context, cs *convState, next *fd.Conversation) error {
	data, err := proto.Marshal(next)
	if err != nil {
		return err
	}
	rev, err := t.e.conv.Update(ctx, subjects.ConversationKey(t.id, next.GetConv()), data, cs.rev)
	if err != nil {
		if isMismatch(err) {
			fresh, ferr := t.fetch(ctx, next.GetConv())
			if ferr != nil {
				return ferr
			}
			if fresh != nil {
				cs.c, cs.rev = fresh.c, fresh.rev
			}
			return errConflict
		}
		return fmt.Errorf("update conversation %s: %w", next.GetConv(), err)
	}
	cs.c, cs.rev = next, rev
	return nil
}

func clone(c *fd.Conversation) *fd.Conversation { return proto.Clone(c).(*fd.Conversation) }

// toQueue moves a bot (or not yet enqueued) conversation into a queue.
func (t *tenant) toQueue(ctx context.Context, cs *convState, c *fd.Command, now time.Time) error {
	next := clone(cs.c)
	next.State = frames.StateQueued
	next.Skills = queue.Needs(next.GetSkills(), c.GetSkills())
	if c.GetLanguage() != "" {
		next.Language = c.GetLanguage()
	}
	next.Priority = max(next.GetPriority(), c.GetPriority())
	if c.GetSummary() != "" {
		next.Summary = c.GetSummary()
	}
	next.Queue = t.pickQueue(c.GetToQueue(), next)
	next.QueuedAt = timestamppb.New(now)
	next.Agent = nil
	if err := t.write(ctx, cs, next); err != nil {
		return err
	}
	t.push(cs, false, now, 0)
	t.saveRecord(ctx, cs, 0)
	pos := int32(t.d.Q.Position(cs.c.GetConv()))
	t.event(ctx, cs, evQueued, "", func(ev *fd.ConversationEvent) {
		ev.Reason, ev.Summary, ev.Position = c.GetReason(), next.GetSummary(), pos
		ev.Actor = c.GetActor()
	})
	t.fresh = append(t.fresh, cs.c.GetConv())
	return nil
}

// push adds a queued conversation to the in-memory line.
func (t *tenant) push(cs *convState, front bool, since time.Time, seq uint64) *queue.Entry {
	c := cs.c
	e := &queue.Entry{Conv: c.GetConv(), Customer: c.GetCustomer().GetId(), Queue: c.GetQueue(),
		Needs: t.needs(c), Priority: c.GetPriority(), Front: front, Since: since, Seq: seq}
	t.d.Q.Push(e)
	t.convs[c.GetConv()] = cs
	t.tellDirty = true
	return e
}

// saveRecord writes the conversation's queue placement (and last applied command).
func (t *tenant) saveRecord(ctx context.Context, cs *convState, cmdSeq uint64) {
	conv := cs.c.GetConv()
	rec := convRecord{Cmd: cmdSeq}
	if e := t.d.Q.Get(conv); e != nil {
		rec.Seq, rec.Front, rec.Since = e.Seq, e.Front, e.Since
	}
	if _, err := t.e.disp.Put(ctx, convRecordKey(t.id, conv), mustJSON(rec)); err != nil {
		t.log.Warn("save queue record", zap.String("conv", conv), zap.Error(err))
	}
}

func (t *tenant) queueConf(name string) *fd.Queue {
	for _, q := range t.cfg.GetQueues() {
		if q.GetName() == name {
			return q
		}
	}
	return nil
}

// pickQueue chooses the queue of a conversation: the one asked for, else one serving the
// customer's language, else one whose skills the conversation needs, else the first.
func (t *tenant) pickQueue(asked string, c *fd.Conversation) string {
	qs := t.cfg.GetQueues()
	if len(qs) == 0 {
		return cmp.Or(asked, "default")
	}
	if q := t.queueConf(asked); q != nil {
		return q.GetName()
	}
	if c.GetLanguage() != "" {
		for _, q := range qs {
			if q.GetLanguage() == c.GetLanguage() {
				return q.GetName()
			}
		}
	}
	for _, q := range qs {
		if len(q.GetSkills()) > 0 && hasAll(c.GetSkills(), q.GetSkills()) {
			return q.GetName()
		}
	}
	return qs[0].GetName()
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// needs are the skills an agent must have for c: the queue's, the conversation's, and the
// queue's language (a language queue is served by agents with that language as a skill).
func (t *tenant) needs(c *fd.Conversation) []string {
	q := t.queueConf(c.GetQueue())
	return queue.Needs(q.GetSkills(), c.GetSkills(), []string{q.GetLanguage()})
}

func (t *tenant) close(ctx context.Context, cs *convState, c *fd.Command, now time.Time) error {
	state := cs.c.GetState()
	if state == frames.StateClosed {
		return nil
	}
	actor := c.GetActor()
	switch actor.GetRole() {
	case frames.RoleCustomer:
		if actor.GetId() != cs.c.GetCustomer().GetId() {
			return nil
		}
	case frames.RoleAgent:
		if state != frames.StateAssigned || cs.c.GetAgent().GetId() != actor.GetId() {
			return nil
		}
	}
	prev := cs.c.GetAgent()
	next := clone(cs.c)
	next.State = frames.StateClosed
	next.ClosedAt = timestamppb.New(now)
	next.Agent = nil
	if err := t.write(ctx, cs, next); err != nil {
		return err
	}
	conv := cs.c.GetConv()
	if e := t.d.Q.Remove(conv); e != nil {
		if e.Offered != "" {
			if a := t.d.Agents.Get(e.Offered); a != nil {
				delete(a.Offers, conv)
			}
		}
		t.tellDirty = true
	}
	if state == frames.StateAssigned && t.d.Release(prev.GetId(), conv) && !cs.assignedAt.IsZero() {
		t.d.Handle.Observe(now.Sub(cs.assignedAt))
	}
	reason := reasonClosedByAgent
	if actor.GetRole() == frames.RoleCustomer {
		reason = reasonClosedCustomer
	}
	t.cleanupClosed(ctx, cs, prev)
	t.event(ctx, cs, evClosed, "", func(ev *fd.ConversationEvent) {
		ev.Agent, ev.PreviousAgent, ev.Actor, ev.Reason = nil, prev, actor, reason
	})
	return nil
}

// cleanupClosed deletes a closed conversation's participant keys, the customer's open key
// (only if it still names this conversation) and the dispatcher's record.
func (t *tenant) cleanupClosed(ctx context.Context, cs *convState, prev *fd.Participant) {
	conv := cs.c.GetConv()
	cust := cs.c.GetCustomer().GetId()
	if cust != "" {
		_ = t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, cust, conv))
		if e, err := t.e.open.Get(ctx, subjects.OpenKey(t.id, cust)); err == nil && string(e.Value()) == conv {
			_ = t.e.open.Delete(ctx, subjects.OpenKey(t.id, cust), jetstream.LastRevision(e.Revision()))
		}
	}
	if prev.GetId() != "" {
		_ = t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, prev.GetId(), conv))
	}
	_ = t.e.disp.Delete(ctx, convRecordKey(t.id, conv))
	delete(t.convs, conv)
}

func (t *tenant) transfer(ctx context.Context, cs *convState, c *fd.Command, seq uint64, now time.Time) error {
	if cs.c.GetState() != frames.StateAssigned {
		return nil
	}
	actor := c.GetActor()
	prev := cs.c.GetAgent()
	if actor.GetRole() == frames.RoleAgent && actor.GetId() != prev.GetId() {
		return nil
	}
	conv := cs.c.GetConv()
	refuse := func(reason, msg string) error {
		t.frame(actor.GetId(), &fd.ServerFrame{Type: frames.TypeNotice, Conv: conv, Reason: reason, Message: msg})
		return nil
	}
	if to := c.GetToAgent(); to != "" {
		target := t.d.Agents.Get(to)
		why := t.d.Agents.TransferTarget(target)
		// To its own agent a transfer changes nothing, whatever their status or load; only an
		// offline one is worth telling the sender about.
		if to == prev.GetId() && why != assign.RefusedOffline {
			return nil
		}
		switch why {
		case assign.RefusedOffline:
			return refuse(reasonTransferRefuse, "That agent is not online.")
		case assign.RefusedAway:
			return refuse(reasonAgentAway, "That agent is away and not taking new conversations.")
		case assign.RefusedFull:
			return refuse(reasonTransferRefuse, "That agent has no free capacity.")
		}
		next := clone(cs.c)
		next.Agent = t.participant(target)
		next.AssignedAt = timestamppb.New(now)
		if err := t.write(ctx, cs, next); err != nil {
			return err
		}
		t.d.Release(prev.GetId(), conv)
		target.Active[conv] = true
		target.LastAssigned = now
		cs.assignedAt = now
		t.putParticipant(ctx, conv, next.Agent)
		_ = t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, prev.GetId(), conv))
		t.saveRecord(ctx, cs, seq)
		t.event(ctx, cs, evTransferred, "", func(ev *fd.ConversationEvent) {
			ev.PreviousAgent, ev.Actor, ev.Reason = prev, actor, reasonTransfer
		})
		t.assignedFrame(cs, target)
		return nil
	}
	asked := c.GetToQueue()
	if asked != "" && len(t.cfg.GetQueues()) > 0 && t.queueConf(asked) == nil {
		return refuse(reasonTransferRefuse, "No such queue.")
	}
	next := clone(cs.c)
	next.State = frames.StateQueued
	next.Agent = nil
	next.Queue = t.pickQueue(cmp.Or(asked, next.GetQueue()), next)
	next.QueuedAt = timestamppb.New(now)
	if err := t.write(ctx, cs, next); err != nil {
		return err
	}
	t.d.Release(prev.GetId(), conv)
	_ = t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, prev.GetId(), conv))
	// The customer already waited once: back at the front of the new queue.
	t.push(cs, true, now, 0)
	t.saveRecord(ctx, cs, seq)
	t.e.m.requeues.WithLabelValues(t.id, reasonTransfer).Inc()
	pos := int32(t.d.Q.Position(conv))
	t.event(ctx, cs, evTransferred, "", func(ev *fd.ConversationEvent) {
		ev.PreviousAgent, ev.Actor, ev.Reason, ev.Position = prev, actor, reasonTransfer, pos
	})
	t.fresh = append(t.fresh, conv)
	return nil
}

// requeue puts an assigned conversation back at the front (its agent went offline).
func (t *tenant) requeue(ctx context.Context, cs *convState, reason string, now time.Time) error {
	prev := cs.c.GetAgent()
	next := clone(cs.c)
	next.State = frames.StateQueued
	next.Agent = nil
	next.QueuedAt = timestamppb.New(now)
	if err := t.write(ctx, cs, next); err != nil {
		return err
	}
	conv := cs.c.GetConv()
	t.d.Release(prev.GetId(), conv)
	_ = t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, prev.GetId(), conv))
	t.push(cs, true, now, 0)
	t.saveRecord(ctx, cs, cs.cmd)
	t.e.m.requeues.WithLabelValues(t.id, reason).Inc()
	pos := int32(t.d.Q.Position(conv))
	t.event(ctx, cs, evRequeued, "", func(ev *fd.ConversationEvent) {
		ev.PreviousAgent, ev.Reason, ev.Position = prev, reason, pos
		ev.Actor = &fd.Participant{Id: "dispatcher", Role: frames.RoleSystem}
	})
	t.fresh = append(t.fresh, conv)
	return nil
}

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
			// Put it back as it was; the agent may accept again or get a new offer.
			t.d.Release(agent, e.Conv)
			e.Offered = ""
			t.d.Q.Push(e)
		}
		return err
	}
	return nil
}

func (t *tenant) leaveMessage(ctx context.Context, cs *convState, c *fd.Command, now time.Time) error {
	if cs.c.GetState() == frames.StateClosed {
		return nil
	}
	cust := cs.c.GetCustomer()
	if text := frames.CleanText(c.GetText()); text != "" {
		sum := sha256.Sum256([]byte(t.id + "/" + c.GetId()))
		m := &fd.Message{Id: "m_" + hex.EncodeToString(sum[:10]), ClientId: c.GetId(), Tenant: t.id,
			Conv: cs.c.GetConv(), From: cust, Kind: frames.KindText, Text: text, CreatedAt: timestamppb.New(now)}
		data, _ := proto.Marshal(m)
		msg := nats.NewMsg(subjects.Messages(t.id, cs.c.GetConv()))
		msg.Data = data
		if _, err := t.e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(subjects.DedupID(t.id, cust.GetId(), c.GetId()))); err != nil {
			return fmt.Errorf("publish left message: %w", err)
		}
	}
	if cs.c.GetState() == frames.StateBot || t.d.Q.Get(cs.c.GetConv()) == nil && cs.c.GetState() == frames.StateQueued {
		if err := t.toQueue(ctx, cs, c, now); err != nil {
			return err
		}
	}
	t.event(ctx, cs, evMessageLeft, c.GetId()+"."+evMessageLeft, func(ev *fd.ConversationEvent) {
		ev.Actor = c.GetActor()
	})
	return nil
}

func (t *tenant) toBot(ctx context.Context, cs *convState, now time.Time) error {
	if cs.c.GetState() != frames.StateQueued {
		return nil
	}
	if !tenants.BotEnabled(t.cfg) {
		// In state bot nobody would answer: the customer keeps their place in the queue.
		t.log.Info("to_bot refused: the bot is off", zap.String("conv", cs.c.GetConv()))
		text, actions := customerNotice(reasonBotUnavailable, false)
		t.frame(cs.c.GetCustomer().GetId(), &fd.ServerFrame{Type: frames.TypeNotice, Conv: cs.c.GetConv(),
			Reason: reasonBotUnavailable, Message: text, Actions: actions, Ts: frames.Timestamp(time.Now())})
		return nil
	}
	next := clone(cs.c)
	next.State = frames.StateBot
	if err := t.write(ctx, cs, next); err != nil {
		return err
	}
	conv := cs.c.GetConv()
	if e := t.d.Q.Remove(conv); e != nil && e.Offered != "" {
		if a := t.d.Agents.Get(e.Offered); a != nil {
			delete(a.Offers, conv)
		}
	}
	t.tellDirty = true
	_ = t.e.disp.Delete(ctx, convRecordKey(t.id, conv))
	delete(t.convs, conv)
	t.event(ctx, cs, evState, "", func(ev *fd.ConversationEvent) { ev.Reason = reasonToBot })
	return nil
}

func (t *tenant) status(ctx context.Context, c *fd.Command, agent string) error {
	if !subjects.ValidToken(agent) {
		return nil
	}
	a := t.d.Agents.Ensure(agent)
	switch c.GetStatus() {
	case frames.StatusAvailable:
		a.Status = frames.StatusAvailable
		a.Missed = 0
	case frames.StatusAway:
		a.Status = frames.StatusAway
	default:
		return nil
	}
	if n := c.GetActor().GetName(); n != "" {
		a.Name = n
	}
	if c.GetMaxChats() > 0 {
		a.MaxChats = int(c.GetMaxChats())
	}
	if c.AgentSkills != nil {
		a.Skills = assign.Sorted(c.GetAgentSkills())
	}
	t.tellDirty = true
	return t.saveAgent(ctx, a)
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

// ---- presence and timers ----

func (t *tenant) onPresence(in presenceIn) {
	t.observe(in.p, in.ttl, in.at)
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

func (t *tenant) tick(ctx context.Context, now time.Time) {
	if len(t.d.Agents.Expire(now)) > 0 {
		t.tellDirty = true
	}
	for _, a := range t.d.Agents.GoneOffline(now, t.grace()) {
		t.tellDirty = true
		convs := make([]string, 0, len(a.Active))
		for conv := range a.Active {
			convs = append(convs, conv)
		}
		// Oldest assignment first, so they keep their relative order at the front.
		at := func(conv string) time.Time {
			if cs := t.convs[conv]; cs != nil {
				return cs.assignedAt
			}
			return time.Time{}
		}
		slices.SortFunc(convs, func(x, y string) int { return cmp.Or(at(x).Compare(at(y)), cmp.Compare(x, y)) })
		for _, conv := range convs {
			if cs := t.convs[conv]; cs != nil {
				if err := t.requeue(ctx, cs, reasonAgentOffline, now); err != nil {
					t.log.Warn("requeue", zap.String("conv", conv), zap.Error(err))
				}
			}
		}
		for conv := range a.Offers {
			t.d.Withdraw(a.ID, conv, false)
		}
		t.log.Info("agent offline, conversations re-queued", zap.String("agent", a.ID), zap.Int("conversations", len(convs)))
	}
	for _, x := range t.d.Expired(now, t.offerTimeout()) {
		agent, conv := x[0], x[1]
		if !t.d.Withdraw(agent, conv, true) {
			continue
		}
		a := t.d.Agents.Get(agent)
		t.dirtyAgents[agent] = true
		t.frame(agent, &fd.ServerFrame{Type: frames.TypeNotice, Conv: conv, Reason: reasonOfferTimeout,
			Message: "The offer expired and went to another agent."})
		if a.Missed >= t.maxMissed() && a.Status == frames.StatusAvailable {
			a.Status = frames.StatusAway
			t.tellDirty = true
			t.frame(agent, &fd.ServerFrame{Type: frames.TypeNotice, Reason: reasonAwayMissedOffers,
				Message: fmt.Sprintf("You were set to away after %d missed offers.", a.Missed)})
			t.log.Info("agent set away after missed offers", zap.String("agent", agent), zap.Int("missed", a.Missed))
		}
	}
	if now.Sub(t.lastFlush) >= t.e.set.Coalesce {
		t.flush(ctx, now)
	}
}

// ---- matching ----

func (t *tenant) match(ctx context.Context) {
	if t.d.Q.Len() == 0 {
		return
	}
	choose := t.chooser()
	for {
		now := time.Now()
		m, ok := t.d.Next(now, choose)
		if !ok {
			return
		}
		if m.Offer {
			t.offer(m.Entry, m.Agent)
			continue
		}
		if err := t.assign(ctx, m.Entry, m.Agent, now); err != nil {
			if errors.Is(err, errStale) {
				continue
			}
			t.d.Undo(m)
			t.log.Warn("assign failed", zap.String("conv", m.Entry.Conv), zap.String("agent", m.Agent.ID), zap.Error(err))
			return
		}
	}
}

// assign records the decision that e goes to a (already applied in memory): the conversation
// update is the commit point; participant key, event and frames follow and are repaired at
// takeover if the owner dies in between.
func (t *tenant) assign(ctx context.Context, e *queue.Entry, a *assign.Agent, now time.Time) error {
	cs := t.convs[e.Conv]
	if cs == nil {
		t.d.Release(a.ID, e.Conv)
		return errStale
	}
	for attempt := 0; ; attempt++ {
		next := clone(cs.c)
		next.State = frames.StateAssigned
		next.Agent = t.participant(a)
		next.AssignedAt = timestamppb.New(now)
		err := t.write(ctx, cs, next)
		if err == nil {
			break
		}
		if !errors.Is(err, errConflict) || attempt >= 3 {
			return err
		}
		if cs.c.GetState() != frames.StateQueued {
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
	}
	cs.assignedAt = now
	// The event (for the customer's gateways) does not depend on the agent's participant key
	// (which the agent's gateways check when the frame arrives): store both at once.
	var wg sync.WaitGroup
	wg.Go(func() {
		t.event(ctx, cs, evAssigned, "", func(ev *fd.ConversationEvent) {
			ev.Summary = cs.c.GetSummary()
			ev.Actor = &fd.Participant{Id: "dispatcher", Role: frames.RoleSystem}
		})
	})
	t.putParticipant(ctx, e.Conv, cs.c.GetAgent())
	t.assignedFrame(cs, a)
	wg.Wait()
	t.dirtyAgents[a.ID] = true
	t.tellDirty = true
	t.e.m.assignments.WithLabelValues(t.id).Inc()
	t.e.m.timeToAssign.WithLabelValues(t.id).Observe(now.Sub(e.Since).Seconds())
	return nil
}

func (t *tenant) participant(a *assign.Agent) *fd.Participant {
	return &fd.Participant{Id: a.ID, Role: frames.RoleAgent, Name: a.Name}
}

func (t *tenant) putParticipant(ctx context.Context, conv string, p *fd.Participant) {
	if p.GetId() == "" {
		return
	}
	data, _ := proto.Marshal(p)
	if _, err := t.e.part.Put(ctx, subjects.ParticipantKey(t.id, p.GetId(), conv), data); err != nil {
		t.log.Warn("participant key", zap.String("conv", conv), zap.Error(err))
	}
}

func (t *tenant) assignedFrame(cs *convState, a *assign.Agent) {
	t.frame(a.ID, &fd.ServerFrame{Type: frames.TypeAssigned, Conv: cs.c.GetConv(), Agent: t.participant(a),
		Customer: cs.c.GetCustomer(), Summary: cs.c.GetSummary(), Queue: cs.c.GetQueue(),
		Ts: frames.Timestamp(time.Now())})
}

func (t *tenant) offer(e *queue.Entry, a *assign.Agent) {
	cs := t.convs[e.Conv]
	if cs == nil {
		return
	}
	secs := int32(t.offerTimeout() / time.Second)
	t.frame(a.ID, &fd.ServerFrame{Type: frames.TypeOffer, Conv: e.Conv, Customer: cs.c.GetCustomer(),
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

// ---- telling customers and agents ----

func (t *tenant) frame(user string, f *fd.ServerFrame) {
	if user == "" {
		return
	}
	data, err := proto.Marshal(f)
	if err != nil {
		return
	}
	if err := t.e.nc.Publish(subjects.User(t.id, user), data); err != nil {
		t.log.Debug("frame", zap.String("user", user), zap.Error(err))
	}
}

// event publishes a lifecycle event. Its id (Nats-Msg-Id) is derived from the revision the
// change wrote, unless given, so a redelivered or repaired change is stored once.
func (t *tenant) event(ctx context.Context, cs *convState, typ, id string, fill func(*fd.ConversationEvent)) {
	conv := cs.c.GetConv()
	if id == "" {
		id = t.id + "." + conv + "." + strconv.FormatUint(cs.rev, 10) + "." + typ
	}
	ev := &fd.ConversationEvent{Id: id, Tenant: t.id, Conv: conv, Type: typ, State: cs.c.GetState(),
		Revision: cs.rev, Customer: cs.c.GetCustomer(), Agent: cs.c.GetAgent(), Queue: cs.c.GetQueue(),
		At: timestamppb.Now()}
	fill(ev)
	data, _ := proto.Marshal(ev)
	for attempt := 0; attempt < 5; attempt++ {
		msg := nats.NewMsg(subjects.Events(t.id, conv))
		msg.Data = data
		_, err := t.e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		if err == nil {
			return
		}
		t.log.Warn("publish event", zap.String("conv", conv), zap.String("type", typ), zap.Error(err))
		if ctx.Err() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
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
			t.notice(e, reasonOutsideHours)
		case svc.Slots == 0 && time.Since(t.e.started) >= t.e.set.PresenceTTL:
			// A replica that just started has not heard every heartbeat yet: no claim that
			// nobody is there until a full heartbeat period has passed.
			t.notice(e, reasonNoAgents)
		}
	}
	t.fresh = t.fresh[:0]
}

func (t *tenant) notice(e *queue.Entry, reason string) {
	text, actions := customerNotice(reason, tenants.BotEnabled(t.cfg))
	t.frame(e.Customer, &fd.ServerFrame{Type: frames.TypeNotice, Conv: e.Conv, Reason: reason, Message: text,
		Actions: actions, Ts: frames.Timestamp(time.Now())})
}

// customerNotice is the English sentence and the actions of a notice to a queued customer.
// The assistant is offered, and mentioned, only when the tenant's bot is on: going back to a
// bot that is off would leave the customer talking to nobody.
func customerNotice(reason string, bot bool) (string, []string) {
	var text, orBot string
	switch reason {
	case reasonOutsideHours:
		text, orBot = "We are closed right now. Leave a message and we will answer when we are back", ", or keep chatting with the assistant"
	case reasonNoAgents:
		text, orBot = "No agent is available right now. Leave a message and we will get back to you", ", or keep chatting with the assistant"
	case reasonMaxWait:
		text, orBot = "Sorry for the wait. You can leave a message and we will get back to you", ", or go back to the assistant"
	case reasonBotUnavailable:
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
	t.frame(e.Customer, f)
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
				t.notice(e, reasonMaxWait)
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
	t.gauges(now, counts)
	t.persist(ctx)
}

func (t *tenant) gauges(now time.Time, c assign.Counts) {
	m := t.e.m
	m.agents.WithLabelValues(t.id, frames.StatusAvailable).Set(float64(c.Available))
	m.agents.WithLabelValues(t.id, frames.StatusAway).Set(float64(c.Away))
	m.agents.WithLabelValues(t.id, frames.StatusOffline).Set(float64(c.Offline))
	m.agents.WithLabelValues(t.id, "routable").Set(float64(c.Routable))
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

// persist saves the command cursor and changed agents. Saving after the effects means a
// crash replays at most the last interval's commands, which are idempotent.
func (t *tenant) persist(ctx context.Context) {
	if t.cursor != t.saved {
		if _, err := t.e.disp.Put(ctx, cursorKey(t.id), []byte(strconv.FormatUint(t.cursor, 10))); err == nil {
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
}
