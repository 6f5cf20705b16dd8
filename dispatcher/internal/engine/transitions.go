package engine

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// Transitions: what the dispatcher decides for a conversation, as pure functions of the
// conversation, the input and the clock, in the form of package queue and assign. They read
// nothing but their arguments and change nothing: a decision is a list of effects that
// apply.go carries out in order. Every rule about who may do what (a customer closes only
// their own conversation, an agent only the one they hold, a transfer goes only to an agent
// who can take it) lives here, and transitions_test.go checks every command in every state
// without NATS.

// allStates are the conversation states a command can meet (proto/frontdesk/v1/conversation.proto).
var allStates = []string{frames.StateBot, frames.StateQueued, frames.StateAssigned, frames.StateClosed}

// allCommands are the command types decide knows (proto/frontdesk/v1/dispatch.proto). The
// transition matrix test iterates over them, so a command added here without its rows fails.
var allCommands = []string{frames.CommandOpen, frames.CommandHandoff, frames.CommandTransfer, frames.CommandClose, frames.CommandAccept, frames.CommandDecline,
	frames.CommandLeaveMessage, frames.CommandToBot, frames.CommandStatus, frames.CommandLabel, frames.CommandRate, frames.CommandErase}

// conversation is what a transition decides on: the truth read from fd_conversations and the
// conversation's place in the actor's memory.
type conversation struct {
	c *fd.Conversation
	// inLine says the conversation has an entry in the in-memory queue. A queued conversation
	// without one was created queued by the gateway and waits for its open command.
	inLine bool
	// offeredTo is the agent holding an offer of it, if any.
	offeredTo string
	// cmd is the stream sequence of the last command applied to it.
	cmd uint64
}

// command is one command from FD_COMMANDS.
type command struct {
	*fd.Command
	// seq is its FD_COMMANDS sequence.
	seq uint64
	// agent is the agent named by an agent-commands subject (authoritative for status).
	agent string
}

// rules are the tenant-level inputs of transitions: its settings and a read-only view of its
// agents.
type rules struct {
	cfg *fd.Tenant
	// target says whether an agent can take a conversation transferred to them by name, and
	// who they are.
	target func(agent string) (assign.Refusal, *fd.Participant)
}

// decision is the outcome of a transition: effects in the order they must happen. The first
// effects up to the commit (see commits) must succeed before anything else is done.
type decision struct {
	effects []effect
	// refusal is the reason a refused command is refused (the sender is told by a frame among
	// the effects); empty when the command is applied or simply does not apply.
	refusal string
}

// next is the conversation the decision writes, nil if it writes none.
func (d decision) next() *fd.Conversation {
	for _, ef := range d.effects {
		if w, ok := ef.(write); ok {
			return w.next
		}
	}
	return nil
}

// systemActor is the dispatcher as the actor of its own decisions.
func systemActor() *fd.Participant { return &fd.Participant{Id: "dispatcher", Role: frames.RoleSystem} }

// decide is the transition of conversation cv on command c at now. A status command concerns
// an agent, not cv, and is decided the same way in every state.
func (r rules) decide(cv conversation, c command, now time.Time) decision {
	state := cv.c.GetState()
	switch c.GetType() {
	case frames.CommandStatus:
		return r.status(c)
	case frames.CommandOpen, frames.CommandHandoff:
		var opened []effect
		if c.GetType() == frames.CommandOpen && (state == frames.StateBot || state == frames.StateQueued) {
			opened = []effect{openedEvent(cv, c)}
		}
		if state == frames.StateBot && c.GetType() == frames.CommandOpen {
			return decision{effects: opened} // the bot talks first; handoff brings it to us
		}
		if state == frames.StateBot || (state == frames.StateQueued && !cv.inLine) {
			// The opened event follows the commit (a refused write must leave no event) and
			// comes before the queued one.
			q := r.toQueue(cv, c, now)
			n := 0
			for n < len(q) && commits(q[n]) {
				n++
			}
			return decision{effects: slices.Concat(q[:n], opened, q[n:])}
		}
		return decision{effects: opened}
	case frames.CommandClose:
		return r.close(cv, c, now)
	case frames.CommandTransfer:
		return r.transfer(cv, c, now)
	case frames.CommandAccept:
		if a := c.GetActor().GetId(); a != "" && cv.offeredTo == a {
			return decision{effects: []effect{acceptOffer{agent: a}}}
		}
	case frames.CommandDecline:
		if a := c.GetActor().GetId(); a != "" && cv.offeredTo == a {
			return decision{effects: []effect{withdraw{agent: a}}}
		}
	case frames.CommandLeaveMessage:
		return r.leaveMessage(cv, c, now)
	case frames.CommandToBot:
		return r.toBot(cv, c, now)
	case frames.CommandLabel:
		return r.label(cv, c) // labels.go
	case frames.CommandRate:
		return r.rate(cv, c, now) // rating.go
	case frames.CommandErase:
		return r.erase(cv, c, now) // erase.go
	}
	return decision{}
}

// openedEvent announces a conversation the gateway opened (the `open` command). The dispatcher
// publishes it, not the gateway, so that the gateway's NATS user needs no right on the events
// subjects and cannot forge a decision. Its id is the conversation's, so a replayed command
// stores it once (within the stream's duplicate window; consumers dedupe on the id anyway),
// and its time is when the gateway opened the conversation.
func openedEvent(cv conversation, c command) event {
	at := cv.c.GetOpenedAt()
	if at == nil {
		at = c.GetAt()
	}
	return event{typ: frames.EventOpened, id: "opened/" + cv.c.GetConv(), actor: c.GetActor(), at: at}
}

// toQueue moves a bot (or not yet enqueued) conversation into a queue.
func (r rules) toQueue(cv conversation, c command, now time.Time) []effect {
	next := clone(cv.c)
	next.State = frames.StateQueued
	next.Skills = queue.Needs(next.GetSkills(), c.GetSkills())
	if c.GetLanguage() != "" {
		next.Language = c.GetLanguage()
	}
	next.Priority = max(next.GetPriority(), c.GetPriority())
	if c.GetSummary() != "" {
		next.Summary = c.GetSummary()
	}
	next.Queue = r.pickQueue(c.GetToQueue(), next)
	next.QueuedAt = timestamppb.New(now)
	next.Agent = nil
	return []effect{write{next}, lineAdd{}, saveRecord{cmd: 0},
		event{typ: frames.EventQueued, reason: c.GetReason(), actor: c.GetActor(), summary: true, position: true}, tellFresh{}}
}

func (r rules) close(cv conversation, c command, now time.Time) decision {
	reason := frames.ReasonClosedByAgent
	if c.GetActor().GetRole() == frames.RoleCustomer {
		reason = frames.ReasonClosedByCustomer
	}
	return r.closeFor(cv, c, reason, now)
}

// closeFor closes cv on command c, with reason as the closed event's. The conversation's
// record stays until the closed event is stored (owe, and the event marked owed): closing
// takes the conversation out of the actor's care, and an owner ending between the write and
// the event (or with the event in its outbox) would otherwise lose the event for good, while
// the persister and every consumer take the close from it. The record holds the actor and
// the reason, which the conversation does not, for a takeover to build the same event.
func (r rules) closeFor(cv conversation, c command, reason string, now time.Time) decision {
	state := cv.c.GetState()
	if state == frames.StateClosed {
		return decision{}
	}
	actor := c.GetActor()
	switch actor.GetRole() {
	case frames.RoleCustomer:
		if actor.GetId() != cv.c.GetCustomer().GetId() {
			return decision{} // not their conversation
		}
	case frames.RoleAgent:
		if state != frames.StateAssigned || cv.c.GetAgent().GetId() != actor.GetId() {
			return decision{} // not theirs (any more)
		}
	}
	prev := cv.c.GetAgent()
	next := clone(cv.c)
	next.State = frames.StateClosed
	next.ClosedAt = timestamppb.New(now)
	next.Agent = nil
	next.LastAgent = prev // told of the customer's rating (rating.go)
	effs := []effect{owe{cmd: c.seq, by: actor, reason: reason}, write{next}}
	if cv.inLine {
		effs = append(effs, lineRemove{})
	}
	if state == frames.StateAssigned {
		effs = append(effs, release{agent: prev.GetId(), handled: true})
	}
	effs = append(effs, closedCleanup(cv.c, prev)...)
	effs = append(effs, closedEvent(next, actor, reason))
	return decision{effects: effs}
}

// closedEvent is the closed event of c, closed by actor for reason: the one builder of the
// event, for the close (closeFor) and for a takeover publishing a close whose event was lost
// (rebuild.go owedEvent), so both make the same event under the same id. It names the agent
// who held the conversation (previous_agent) and is dated when it closed.
func closedEvent(c *fd.Conversation, actor *fd.Participant, reason string) event {
	return event{typ: frames.EventClosed, reason: reason, actor: actor, prev: c.GetLastAgent(), at: c.GetClosedAt(), owed: true}
}

// closedCleanup deletes a closed conversation's participant keys and the customer's open key
// (only if it still names this conversation), and forgets it. The dispatcher's record goes
// once the closed event is stored (closeFor).
func closedCleanup(c *fd.Conversation, prev *fd.Participant) []effect {
	var effs []effect
	if cust := c.GetCustomer().GetId(); cust != "" {
		effs = append(effs, dropParticipant{user: cust}, dropOpen{customer: cust})
	}
	if prev.GetId() != "" {
		effs = append(effs, dropParticipant{user: prev.GetId()})
	}
	return append(effs, forget{})
}

func (r rules) transfer(cv conversation, c command, now time.Time) decision {
	if cv.c.GetState() != frames.StateAssigned {
		return decision{}
	}
	actor := c.GetActor()
	prev := cv.c.GetAgent()
	if actor.GetRole() == frames.RoleAgent && actor.GetId() != prev.GetId() {
		return decision{} // only the holder (or a supervisor) hands it on
	}
	conv := cv.c.GetConv()
	refuse := func(reason, msg string) decision {
		return decision{refusal: reason, effects: []effect{sendFrame{user: actor.GetId(),
			f: &fd.ServerFrame{Type: frames.TypeNotice, Conv: conv, Reason: reason, Message: msg}}}}
	}
	if to := c.GetToAgent(); to != "" {
		why, target := r.target(to)
		// To its own agent a transfer changes nothing, whatever their status or load; only an
		// offline one is worth telling the sender about.
		if to == prev.GetId() && why != assign.RefusedOffline {
			return decision{}
		}
		switch why {
		case assign.RefusedOffline:
			return refuse(frames.ReasonTransferRefused, "That agent is not online.")
		case assign.RefusedAway:
			return refuse(frames.ReasonAgentAway, "That agent is away and not taking new conversations.")
		case assign.RefusedFull:
			return refuse(frames.ReasonTransferRefused, "That agent has no free capacity.")
		}
		next := clone(cv.c)
		next.Agent = target
		next.AssignedAt = timestamppb.New(now)
		return decision{effects: []effect{write{next}, release{agent: prev.GetId()}, hold{agent: to},
			putParticipant{p: target}, dropParticipant{user: prev.GetId()}, saveRecord{cmd: c.seq},
			event{typ: frames.EventTransferred, reason: frames.ReasonTransfer, actor: actor, prev: prev},
			sendFrame{user: to, f: assignedFrame(next, now)}}}
	}
	asked := c.GetToQueue()
	if asked != "" && len(r.cfg.GetQueues()) > 0 && r.queueConf(asked) == nil {
		return refuse(frames.ReasonTransferRefused, "No such queue.")
	}
	next := clone(cv.c)
	next.State = frames.StateQueued
	next.Agent = nil
	next.Queue = r.pickQueue(cmp.Or(asked, next.GetQueue()), next)
	next.QueuedAt = timestamppb.New(now)
	// The customer already waited once: back at the front of the new queue.
	return decision{effects: []effect{write{next}, release{agent: prev.GetId()}, dropParticipant{user: prev.GetId()},
		lineAdd{front: true}, saveRecord{cmd: c.seq}, countRequeue{reason: frames.ReasonTransfer},
		event{typ: frames.EventTransferred, reason: frames.ReasonTransfer, actor: actor, prev: prev, position: true}, tellFresh{}}}
}

// requeue puts an assigned conversation back at the front of the line (its agent went
// offline, reason says so).
func (r rules) requeue(cv conversation, reason string, now time.Time) decision {
	if cv.c.GetState() != frames.StateAssigned {
		return decision{}
	}
	prev := cv.c.GetAgent()
	next := clone(cv.c)
	next.State = frames.StateQueued
	next.Agent = nil
	next.QueuedAt = timestamppb.New(now)
	return decision{effects: []effect{write{next}, release{agent: prev.GetId()}, dropParticipant{user: prev.GetId()},
		lineAdd{front: true}, saveRecord{cmd: cv.cmd}, countRequeue{reason: reason},
		event{typ: frames.EventRequeued, reason: reason, actor: systemActor(), prev: prev, position: true}, tellFresh{}}}
}

// assignTo records that the queued conversation goes to agent, a match already made in
// memory (package assign): the conversation update is the commit point; participant key,
// event and frame follow and are repaired at takeover if the owner dies in between.
func (r rules) assignTo(cv conversation, agent *fd.Participant, now time.Time) decision {
	if cv.c.GetState() != frames.StateQueued {
		return decision{}
	}
	next := clone(cv.c)
	next.State = frames.StateAssigned
	next.Agent = agent
	next.AssignedAt = timestamppb.New(now)
	// The event (for the customer's gateways) does not depend on the agent's participant key
	// (which the agent's gateways check when the frame arrives): it is stored alongside.
	return decision{effects: []effect{write{next},
		event{typ: frames.EventAssigned, actor: systemActor(), summary: true, alongside: true},
		putParticipant{p: agent}, sendFrame{user: agent.GetId(), f: assignedFrame(next, now)}}}
}

func (r rules) leaveMessage(cv conversation, c command, now time.Time) decision {
	state := cv.c.GetState()
	if state == frames.StateClosed {
		return decision{}
	}
	var effs []effect
	cust := cv.c.GetCustomer()
	if text := frames.CleanText(c.GetText()); text != "" {
		tenant := cv.c.GetTenant()
		sum := sha256.Sum256([]byte(tenant + "/" + c.GetId()))
		m := &fd.Message{Id: "m_" + hex.EncodeToString(sum[:10]), ClientId: c.GetId(), Tenant: tenant,
			Conv: cv.c.GetConv(), From: cust, Kind: frames.KindText, Text: text, CreatedAt: timestamppb.New(now)}
		effs = append(effs, publishMessage{m: m, dedup: subjects.DedupID(tenant, cust.GetId(), c.GetId())})
	}
	if state == frames.StateBot || (state == frames.StateQueued && !cv.inLine) {
		effs = append(effs, r.toQueue(cv, c, now)...)
	}
	effs = append(effs, event{typ: frames.EventMessageLeft, id: c.GetId() + "." + frames.EventMessageLeft, actor: c.GetActor()})
	return decision{effects: effs}
}

func (r rules) toBot(cv conversation, c command, now time.Time) decision {
	if cv.c.GetState() != frames.StateQueued {
		return decision{}
	}
	if !tenants.BotEnabled(r.cfg) {
		// In state bot nobody would answer: the customer keeps their place in the queue.
		text, actions := customerNotice(frames.ReasonBotUnavailable, false)
		return decision{refusal: frames.ReasonBotUnavailable, effects: []effect{sendFrame{user: cv.c.GetCustomer().GetId(),
			f: &fd.ServerFrame{Type: frames.TypeNotice, Conv: cv.c.GetConv(), Reason: frames.ReasonBotUnavailable,
				Message: text, Actions: actions, Ts: frames.Timestamp(now)}}}}
	}
	// The record stays until the state event is stored, as for a close (closeFor): back with
	// the bot, the conversation leaves the actor's care.
	next := clone(cv.c)
	next.State = frames.StateBot
	effs := []effect{owe{cmd: c.seq}, write{next}}
	if cv.inLine {
		effs = append(effs, lineRemove{})
	}
	return decision{effects: append(effs, forget{}, toBotEvent())}
}

// toBotEvent is the state event of a conversation handed back to the bot: the one builder of
// the event, for toBot and for a takeover publishing it when it was lost (rebuild.go).
func toBotEvent() event {
	return event{typ: frames.EventState, reason: frames.ReasonToBot, owed: true}
}

// status sets an agent's chosen status (and what the console says of them).
func (r rules) status(c command) decision {
	agent := cmp.Or(c.agent, c.GetActor().GetId())
	if !subjects.ValidToken(agent) {
		return decision{}
	}
	switch c.GetStatus() {
	case frames.StatusAvailable, frames.StatusAway:
	default:
		return decision{}
	}
	s := setStatus{agent: agent, status: c.GetStatus(), name: c.GetActor().GetName(), maxChats: int(c.GetMaxChats())}
	if c.AgentSkills != nil {
		s.skills, s.setSkills = assign.Sorted(c.GetAgentSkills()), true
	}
	return decision{effects: []effect{s, saveAgent{agent: agent}}}
}

// assignedFrame tells an agent they hold conversation c.
func assignedFrame(c *fd.Conversation, now time.Time) *fd.ServerFrame {
	return &fd.ServerFrame{Type: frames.TypeAssigned, Conv: c.GetConv(), Agent: c.GetAgent(),
		Customer: c.GetCustomer(), Summary: c.GetSummary(), Queue: c.GetQueue(), Ts: frames.Timestamp(now)}
}

func (r rules) queueConf(name string) *fd.Queue {
	for _, q := range r.cfg.GetQueues() {
		if q.GetName() == name {
			return q
		}
	}
	return nil
}

// pickQueue chooses the queue of a conversation: the one asked for, else one serving the
// customer's language, else one whose skills the conversation needs, else the first.
func (r rules) pickQueue(asked string, c *fd.Conversation) string {
	qs := r.cfg.GetQueues()
	if len(qs) == 0 {
		return cmp.Or(asked, "default")
	}
	if q := r.queueConf(asked); q != nil {
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

// needs are the skills an agent must have for c: the queue's, the conversation's, and the
// queue's language (a language queue is served by agents with that language as a skill).
func (r rules) needs(c *fd.Conversation) []string {
	q := r.queueConf(c.GetQueue())
	return queue.Needs(q.GetSkills(), c.GetSkills(), []string{q.GetLanguage()})
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func clone(c *fd.Conversation) *fd.Conversation { return proto.Clone(c).(*fd.Conversation) }
