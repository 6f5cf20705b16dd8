package engine

import (
	"fmt"
	"strings"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// effect is one thing a decision asks for. Transitions (transitions.go) return them, the
// applier (apply.go) carries them out. String names an effect in tests and logs.
type effect interface {
	String() string
}

// Effects that commit: until one of them succeeded nothing else of the decision happened, so
// their failure fails the whole decision (the caller decides again or retries the command).

// write updates the conversation with compare-and-set on the revision it was read at: the
// commit point of every change of a conversation (the revision is the fencing token).
type write struct{ next *fd.Conversation }

// publishMessage stores a message the customer left (before its conversation changes, so a
// retried command publishes it again under the same id rather than losing it).
type publishMessage struct {
	m     *fd.Message
	dedup string
}

// acceptOffer turns the actor's offer into an assignment: the assignment transition
// (rules.assignTo) with its own commit.
type acceptOffer struct{ agent string }

// setStatus changes an agent's chosen status in memory; saveAgent commits it.
type setStatus struct {
	agent, status, name string
	maxChats            int
	skills              []string
	setSkills           bool
}

// saveAgent writes an agent's record to fd_dispatcher.
type saveAgent struct{ agent string }

// owe writes the conversation's record to fd_dispatcher before a change that leaves the
// conversation out of the actor's care (a close, a return to the bot, a rating of a closed
// one), so that the change's event is owed where a takeover looks: rebuild visits every
// conversation with a record and publishes the event of its revision when the stream lacks it
// (rebuild.go). Without it an owner ending between the change and its event (or with the event
// still in its outbox) loses the event for good. The event marked owed deletes the record once
// stored. by and reason are the event's actor and reason where the conversation does not
// tell them (who closed it, and why), for the takeover to build the same event.
type owe struct {
	cmd    uint64
	by     *fd.Participant
	reason string
}

// Effects on the actor's memory (the waiting line and the agents).

// lineAdd puts the conversation into the waiting line (at the front after a transfer or the
// loss of its agent: the customer already waited once).
type lineAdd struct{ front bool }

// lineRemove takes the conversation out of the line, withdrawing an outstanding offer.
type lineRemove struct{}

// release frees the conversation from agent; handled feeds the handling time estimate.
type release struct {
	agent   string
	handled bool
}

// hold gives the conversation to agent (a transfer by name).
type hold struct{ agent string }

// withdraw ends agent's offer (declined).
type withdraw struct{ agent string }

// forget drops the conversation from the actor's managed set (closed, or back to the bot).
type forget struct{}

// tellFresh tells the customer their place in the line once the decision is done.
type tellFresh struct{}

// countRequeue counts a re-queue in the metrics.
type countRequeue struct{ reason string }

// Effects on NATS after the commit: they cannot be undone, so all of them run; the failed
// ones are reported together, and events that could not be stored are retried from the
// outbox.

// putParticipant writes an agent's participant key for the conversation.
type putParticipant struct{ p *fd.Participant }

// dropParticipant deletes a user's participant key for the conversation.
type dropParticipant struct{ user string }

// dropOpen deletes the customer's open key if it still names the conversation.
type dropOpen struct{ customer string }

// saveRecord writes the conversation's queue placement and last applied command.
type saveRecord struct{ cmd uint64 }

// dropRecord deletes the conversation's record from fd_dispatcher.
type dropRecord struct{}

// event publishes a lifecycle event about the conversation as written. Its id is derived
// from the revision unless given, so a redelivered or repaired change is stored once.
type event struct {
	typ, id, reason string
	// label is the label a labeled event adds or removes.
	label       string
	actor, prev *fd.Participant
	// summary carries the conversation's summary; position its place in the line.
	summary, position bool
	// alongside publishes it concurrently with the effects that follow it.
	alongside bool
	// at is when it happened, when not now (opened: when the gateway opened the conversation).
	at *timestamppb.Timestamp
	// owed says a record marks the event as owed (owe): it is deleted once the event is stored.
	owed bool
}

// sendFrame sends a frame to a user (core NATS: the user's gateways, if any, deliver it).
type sendFrame struct {
	user string
	f    *fd.ServerFrame
}

func (w write) String() string {
	s := "write(" + w.next.GetState()
	if a := w.next.GetAgent().GetId(); a != "" {
		s += " " + a
	}
	if q := w.next.GetQueue(); q != "" && w.next.GetState() == frames.StateQueued {
		s += " " + q
	}
	return s + ")"
}
func (p publishMessage) String() string { return "message(" + p.m.GetText() + ")" }
func (a acceptOffer) String() string    { return "accept(" + a.agent + ")" }
func (s setStatus) String() string      { return "status(" + s.agent + " " + s.status + ")" }
func (s saveAgent) String() string      { return "agent+(" + s.agent + ")" }
func (o owe) String() string {
	if o.by != nil || o.reason != "" {
		return fmt.Sprintf("owe(%d by=%s %s)", o.cmd, o.by.GetId(), o.reason)
	}
	return fmt.Sprintf("owe(%d)", o.cmd)
}
func (l lineAdd) String() string {
	if l.front {
		return "line+front"
	}
	return "line+"
}
func (lineRemove) String() string { return "line-" }
func (r release) String() string {
	if r.handled {
		return "release(" + r.agent + " handled)"
	}
	return "release(" + r.agent + ")"
}
func (h hold) String() string            { return "hold(" + h.agent + ")" }
func (w withdraw) String() string        { return "withdraw(" + w.agent + ")" }
func (forget) String() string            { return "forget" }
func (tellFresh) String() string         { return "tell" }
func (c countRequeue) String() string    { return "count(" + c.reason + ")" }
func (p putParticipant) String() string  { return "part+(" + p.p.GetId() + ")" }
func (d dropParticipant) String() string { return "part-(" + d.user + ")" }
func (d dropOpen) String() string        { return "open-(" + d.customer + ")" }
func (s saveRecord) String() string      { return fmt.Sprintf("record(%d)", s.cmd) }
func (dropRecord) String() string        { return "record-" }
func (e event) String() string {
	parts := []string{e.typ}
	if e.reason != "" {
		parts = append(parts, e.reason)
	}
	if e.prev.GetId() != "" {
		parts = append(parts, "prev="+e.prev.GetId())
	}
	if e.actor.GetId() != "" {
		parts = append(parts, "by="+e.actor.GetId())
	}
	if e.position {
		parts = append(parts, "pos")
	}
	if e.owed {
		parts = append(parts, "owed")
	}
	return "event(" + strings.Join(parts, " ") + ")"
}
func (s sendFrame) String() string {
	if s.f.GetReason() != "" {
		return "frame(" + s.user + " " + s.f.GetType() + " " + s.f.GetReason() + ")"
	}
	return "frame(" + s.user + " " + s.f.GetType() + ")"
}

// commits reports whether ef is an effect whose failure fails the decision. Transitions put
// them first. setStatus counts with the saveAgent that follows it: a retried status command
// sets the same status again. owe commits before the write it marks: a record without the
// change costs the next takeover a read, a change without the record may lose its event.
func commits(ef effect) bool {
	switch ef.(type) {
	case write, publishMessage, acceptOffer, setStatus, saveAgent, owe:
		return true
	}
	return false
}
