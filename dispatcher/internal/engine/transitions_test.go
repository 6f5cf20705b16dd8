package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The transitions need no NATS: a conversation, a command and a clock in, effects out.

var now0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// testRules is the tenant of the transition tests: queues general and billing (skill
// billing); agents a2 (can take a transfer), a3 (away), a4 (full); everyone else offline.
func testRules(bot bool) rules {
	cfg := &fd.Tenant{Id: "acme", Queues: []*fd.Queue{{Name: "general"}, {Name: "billing", Skills: []string{"billing"}}}}
	if bot {
		cfg.Bot = &fd.Bot{Enabled: true}
	}
	return rules{cfg: cfg, target: func(id string) (assign.Refusal, *fd.Participant) {
		switch id {
		case "a2":
			return assign.Takes, agentP(id)
		case "a3":
			return assign.RefusedAway, agentP(id)
		case "a4":
			return assign.RefusedFull, agentP(id)
		case "a1":
			return assign.Takes, agentP(id)
		}
		return assign.RefusedOffline, nil
	}}
}

// convIn builds the conversation c1 of customer u1 in state (assigned to a1 when assigned).
// A queued conversation is in the line unless told otherwise.
func convIn(state string) conversation {
	c := &fd.Conversation{Tenant: "acme", Conv: "c1", State: state, Customer: customer("u1"), Queue: "general", Priority: 1}
	cv := conversation{c: c, cmd: 3}
	switch state {
	case frames.StateQueued:
		cv.inLine = true
	case frames.StateAssigned:
		c.Agent = agentP("a1")
	}
	return cv
}

// row is one case of the matrix: a command meeting a conversation in a state.
type row struct {
	name string
	// conv adjusts the conversation (its place in the line, an offer).
	conv func(*conversation)
	// bot turns the tenant's bot on.
	bot  bool
	cmd  *fd.Command
	want []string // effects, in order
	// refused is the reason the sender is told, if the command is refused.
	refused string
}

type cell struct{ state, cmd string }

var (
	byCustomer = customer("u1")
	byHolder   = agentP("a1")
	notInLine  = func(cv *conversation) { cv.inLine = false }
	offeredA1  = func(cv *conversation) { cv.offeredTo = "a1" }
	offeredA2  = func(cv *conversation) { cv.offeredTo = "a2" }
)

func toQueueGeneral(by string) []string {
	return []string{"write(queued general)", "line+", "record(0)", "event(queued by=" + by + " pos)", "tell"}
}

var nothing = []string{}

// matrix is every command in every state. Status is about an agent, not the conversation: its
// rows are the same in every state (added by statusRows).
var matrix = map[cell][]row{
	// open: the gateway created the conversation; the dispatcher enqueues it once.
	// The dispatcher announces the opening (the gateway may not publish events).
	{frames.StateBot, frames.CommandOpen}: {{name: "bot talks first", cmd: &fd.Command{Actor: byCustomer}, want: []string{"event(opened by=u1)"}}},
	{frames.StateQueued, frames.CommandOpen}: {
		{name: "not yet in line", conv: notInLine, cmd: &fd.Command{Actor: byCustomer},
			want: slices.Insert(toQueueGeneral("u1"), 1, "event(opened by=u1)")},
		{name: "already in line (a replay: the event has the same id)", cmd: &fd.Command{Actor: byCustomer}, want: []string{"event(opened by=u1)"}},
	},
	{frames.StateAssigned, frames.CommandOpen}: {{name: "already served", cmd: &fd.Command{Actor: byCustomer}, want: nothing}},
	{frames.StateClosed, frames.CommandOpen}:   {{name: "too late", cmd: &fd.Command{Actor: byCustomer}, want: nothing}},

	// handoff: the bot hands over to a human.
	{frames.StateBot, frames.CommandHandoff}: {
		{name: "to the line", cmd: &fd.Command{Actor: &fd.Participant{Id: "bot", Role: frames.RoleBot}}, want: toQueueGeneral("bot")},
		{name: "skills pick the queue", cmd: &fd.Command{Actor: &fd.Participant{Id: "bot", Role: frames.RoleBot}, Skills: []string{"billing"}, Reason: "asked"},
			want: []string{"write(queued billing)", "line+", "record(0)", "event(queued asked by=bot pos)", "tell"}},
	},
	{frames.StateQueued, frames.CommandHandoff}: {
		{name: "not yet in line", conv: notInLine, cmd: &fd.Command{Actor: byCustomer}, want: toQueueGeneral("u1")},
		{name: "already in line", cmd: &fd.Command{Actor: byCustomer}, want: nothing},
	},
	{frames.StateAssigned, frames.CommandHandoff}: {{name: "already served", cmd: &fd.Command{}, want: nothing}},
	{frames.StateClosed, frames.CommandHandoff}:   {{name: "too late", cmd: &fd.Command{}, want: nothing}},

	// transfer: only an assigned conversation, only by its holder (or a supervisor).
	{frames.StateBot, frames.CommandTransfer}:    {{name: "nobody holds it", cmd: &fd.Command{Actor: byHolder, ToAgent: "a2"}, want: nothing}},
	{frames.StateQueued, frames.CommandTransfer}: {{name: "nobody holds it", cmd: &fd.Command{Actor: byHolder, ToAgent: "a2"}, want: nothing}},
	{frames.StateAssigned, frames.CommandTransfer}: {
		{name: "to an agent who can take it", cmd: &fd.Command{Actor: byHolder, ToAgent: "a2"},
			want: []string{"write(assigned a2)", "release(a1)", "hold(a2)", "part+(a2)", "part-(a1)", "record(7)",
				"event(transferred transfer prev=a1 by=a1)", "frame(a2 assigned)"}},
		{name: "by another agent", cmd: &fd.Command{Actor: agentP("a9"), ToAgent: "a2"}, want: nothing},
		{name: "to its own agent", cmd: &fd.Command{Actor: byHolder, ToAgent: "a1"}, want: nothing},
		{name: "to an away agent", cmd: &fd.Command{Actor: byHolder, ToAgent: "a3"},
			want: []string{"frame(a1 notice agent_away)"}, refused: frames.ReasonAgentAway},
		{name: "to a full agent", cmd: &fd.Command{Actor: byHolder, ToAgent: "a4"},
			want: []string{"frame(a1 notice transfer_refused)"}, refused: frames.ReasonTransferRefused},
		{name: "to an offline agent", cmd: &fd.Command{Actor: byHolder, ToAgent: "a5"},
			want: []string{"frame(a1 notice transfer_refused)"}, refused: frames.ReasonTransferRefused},
		{name: "to a queue", cmd: &fd.Command{Actor: byHolder, ToQueue: "billing"},
			want: []string{"write(queued billing)", "release(a1)", "part-(a1)", "line+front", "record(7)", "count(transfer)",
				"event(transferred transfer prev=a1 by=a1 pos)", "tell"}},
		{name: "to an unknown queue", cmd: &fd.Command{Actor: byHolder, ToQueue: "nope"},
			want: []string{"frame(a1 notice transfer_refused)"}, refused: frames.ReasonTransferRefused},
		{name: "back to the line by a supervisor", cmd: &fd.Command{Actor: &fd.Participant{Id: "s1", Role: frames.RoleSupervisor}},
			want: []string{"write(queued general)", "release(a1)", "part-(a1)", "line+front", "record(7)", "count(transfer)",
				"event(transferred transfer prev=a1 by=s1 pos)", "tell"}},
	},
	{frames.StateClosed, frames.CommandTransfer}: {{name: "too late", cmd: &fd.Command{Actor: byHolder, ToAgent: "a2"}, want: nothing}},

	// close: a customer closes their own conversation, an agent the one they hold.
	{frames.StateBot, frames.CommandClose}: {
		{name: "by its customer", cmd: &fd.Command{Actor: byCustomer},
			want: []string{"owe(7 by=u1 closed_by_customer)", "write(closed)", "part-(u1)", "open-(u1)", "forget", "event(closed closed_by_customer by=u1 owed)"}},
		{name: "by another customer", cmd: &fd.Command{Actor: customer("u2")}, want: nothing},
		{name: "by an agent", cmd: &fd.Command{Actor: byHolder}, want: nothing},
	},
	{frames.StateQueued, frames.CommandClose}: {
		{name: "by its customer", cmd: &fd.Command{Actor: byCustomer},
			want: []string{"owe(7 by=u1 closed_by_customer)", "write(closed)", "line-", "part-(u1)", "open-(u1)", "forget", "event(closed closed_by_customer by=u1 owed)"}},
		{name: "by its customer before the line", conv: notInLine, cmd: &fd.Command{Actor: byCustomer},
			want: []string{"owe(7 by=u1 closed_by_customer)", "write(closed)", "part-(u1)", "open-(u1)", "forget", "event(closed closed_by_customer by=u1 owed)"}},
		{name: "by an agent", cmd: &fd.Command{Actor: byHolder}, want: nothing},
	},
	{frames.StateAssigned, frames.CommandClose}: {
		{name: "by its agent", cmd: &fd.Command{Actor: byHolder},
			want: []string{"owe(7 by=a1 closed_by_agent)", "write(closed)", "release(a1 handled)", "part-(u1)", "open-(u1)", "part-(a1)", "forget",
				"event(closed closed_by_agent prev=a1 by=a1 owed)"}},
		{name: "by its customer", cmd: &fd.Command{Actor: byCustomer},
			want: []string{"owe(7 by=u1 closed_by_customer)", "write(closed)", "release(a1 handled)", "part-(u1)", "open-(u1)", "part-(a1)", "forget",
				"event(closed closed_by_customer prev=a1 by=u1 owed)"}},
		{name: "by another agent", cmd: &fd.Command{Actor: agentP("a2")}, want: nothing},
		{name: "by another customer", cmd: &fd.Command{Actor: customer("u2")}, want: nothing},
	},
	{frames.StateClosed, frames.CommandClose}: {{name: "twice", cmd: &fd.Command{Actor: byCustomer}, want: nothing}},

	// accept and decline: only the agent holding the offer.
	{frames.StateBot, frames.CommandAccept}: {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},
	{frames.StateQueued, frames.CommandAccept}: {
		{name: "the offer's agent", conv: offeredA1, cmd: &fd.Command{Actor: byHolder}, want: []string{"accept(a1)"}},
		{name: "offered to another", conv: offeredA2, cmd: &fd.Command{Actor: byHolder}, want: nothing},
		{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing},
	},
	{frames.StateAssigned, frames.CommandAccept}: {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},
	{frames.StateClosed, frames.CommandAccept}:   {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},
	{frames.StateBot, frames.CommandDecline}:     {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},
	{frames.StateQueued, frames.CommandDecline}: {
		{name: "the offer's agent", conv: offeredA1, cmd: &fd.Command{Actor: byHolder}, want: []string{"withdraw(a1)"}},
		{name: "offered to another", conv: offeredA2, cmd: &fd.Command{Actor: byHolder}, want: nothing},
	},
	{frames.StateAssigned, frames.CommandDecline}: {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},
	{frames.StateClosed, frames.CommandDecline}:   {{name: "no offer", cmd: &fd.Command{Actor: byHolder}, want: nothing}},

	// leave_message: the text is stored first; a conversation not yet waiting joins the line.
	{frames.StateBot, frames.CommandLeaveMessage}: {
		{name: "joins the line", cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "hello"},
			want: append(append([]string{"message(hello)"}, toQueueGeneral("u1")...), "event(message_left by=u1)")},
		{name: "no text", cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "\x00"},
			want: append(toQueueGeneral("u1"), "event(message_left by=u1)")},
	},
	{frames.StateQueued, frames.CommandLeaveMessage}: {
		{name: "keeps its place", cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "hello"},
			want: []string{"message(hello)", "event(message_left by=u1)"}},
		{name: "not yet in line", conv: notInLine, cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "hello"},
			want: append(append([]string{"message(hello)"}, toQueueGeneral("u1")...), "event(message_left by=u1)")},
	},
	{frames.StateAssigned, frames.CommandLeaveMessage}: {{name: "stored", cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "hello"},
		want: []string{"message(hello)", "event(message_left by=u1)"}}},
	{frames.StateClosed, frames.CommandLeaveMessage}: {{name: "too late", cmd: &fd.Command{Id: "lm1", Actor: byCustomer, Text: "hello"}, want: nothing}},

	// to_bot: a waiting customer goes back to the assistant, if the tenant has one.
	{frames.StateBot, frames.CommandToBot}: {{name: "already", bot: true, cmd: &fd.Command{Actor: byCustomer}, want: nothing}},
	{frames.StateQueued, frames.CommandToBot}: {
		{name: "bot on", bot: true, cmd: &fd.Command{Actor: byCustomer},
			want: []string{"owe(7)", "write(bot)", "line-", "forget", "event(state to_bot owed)"}},
		{name: "bot off", cmd: &fd.Command{Actor: byCustomer},
			want: []string{"frame(u1 notice bot_unavailable)"}, refused: frames.ReasonBotUnavailable},
	},
	{frames.StateAssigned, frames.CommandToBot}: {{name: "served already", bot: true, cmd: &fd.Command{Actor: byCustomer}, want: nothing}},
	{frames.StateClosed, frames.CommandToBot}:   {{name: "too late", bot: true, cmd: &fd.Command{Actor: byCustomer}, want: nothing}},
}

// statusRows are the same in every state: status concerns the agent, not the conversation.
func statusRows() []row {
	return []row{
		{name: "available", cmd: &fd.Command{Actor: byHolder, Status: frames.StatusAvailable},
			want: []string{"status(a1 available)", "agent+(a1)"}},
		{name: "away", cmd: &fd.Command{Actor: byHolder, Status: frames.StatusAway},
			want: []string{"status(a1 away)", "agent+(a1)"}},
		{name: "unknown status", cmd: &fd.Command{Actor: byHolder, Status: "busy"}, want: nothing},
		{name: "invalid agent id", cmd: &fd.Command{Actor: agentP("a.b"), Status: frames.StatusAway}, want: nothing},
	}
}

func init() {
	for _, s := range allStates {
		matrix[cell{s, frames.CommandStatus}] = statusRows()
	}
}

// commitsFirst checks that no effect that can fail the decision comes after one that cannot
// be undone.
func commitsFirst(t *testing.T, d decision) {
	t.Helper()
	undoable := true
	for _, ef := range d.effects {
		switch {
		case !commits(ef):
			undoable = false
		case !undoable:
			t.Errorf("committing effect %s after effects that cannot be undone: %v", ef, effectNames(d))
		}
	}
}

func effectNames(d decision) []string {
	out := []string{}
	for _, ef := range d.effects {
		out = append(out, ef.String())
	}
	return out
}

// TestTransitionMatrix decides every command in every state. The rows are looked up from the
// lists of states and commands, so a state or command added without its rows fails here.
func TestTransitionMatrix(t *testing.T) {
	t.Parallel()
	for c := range matrix {
		if !slices.Contains(allStates, c.state) || !slices.Contains(allCommands, c.cmd) {
			t.Errorf("matrix row %v is not a known state and command", c)
		}
	}
	for _, state := range allStates {
		for _, typ := range allCommands {
			rows := matrix[cell{state, typ}]
			if len(rows) == 0 {
				t.Errorf("no transition rows for %s in state %s", typ, state)
				continue
			}
			for _, r := range rows {
				t.Run(fmt.Sprintf("%s/%s/%s", state, typ, r.name), func(t *testing.T) {
					t.Parallel()
					cv := convIn(state)
					if r.conv != nil {
						r.conv(&cv)
					}
					before := proto.Clone(cv.c)
					c := proto.Clone(r.cmd).(*fd.Command)
					c.Type, c.Conv, c.Tenant = typ, "c1", "acme"
					d := testRules(r.bot).decide(cv, command{Command: c, seq: 7}, now0)
					if got := effectNames(d); !slices.Equal(got, r.want) {
						t.Errorf("effects\n got  %s\n want %s", strings.Join(got, " "), strings.Join(r.want, " "))
					}
					commitsFirst(t, d)
					if d.refusal != r.refused {
						t.Errorf("refusal %q, want %q", d.refusal, r.refused)
					}
					if !proto.Equal(before, cv.c) {
						t.Errorf("decide changed its input: %v, was %v", cv.c, before)
					}
					if next := d.next(); next != nil && (next.GetConv() != "c1" || next.GetCustomer().GetId() != "u1") {
						t.Errorf("next %v lost the conversation's identity", next)
					}
				})
			}
		}
	}
}

// TestRequeueAndAssignTransitions are the transitions not driven by commands: an agent lost
// past their grace period, and a match made by package assign.
func TestRequeueAndAssignTransitions(t *testing.T) {
	t.Parallel()
	r := testRules(false)
	requeue := map[string][]string{
		frames.StateBot:    nothing,
		frames.StateQueued: nothing,
		frames.StateAssigned: {"write(queued general)", "release(a1)", "part-(a1)", "line+front", "record(3)",
			"count(agent_offline)", "event(requeued agent_offline prev=a1 by=dispatcher pos)", "tell"},
		frames.StateClosed: nothing,
	}
	assignTo := map[string][]string{
		frames.StateBot:      nothing,
		frames.StateQueued:   {"write(assigned a2)", "event(assigned by=dispatcher)", "part+(a2)", "frame(a2 assigned)"},
		frames.StateAssigned: nothing,
		frames.StateClosed:   nothing,
	}
	for _, state := range allStates {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			want, ok := requeue[state]
			if !ok {
				t.Fatalf("no requeue row for %s", state)
			}
			d := r.requeue(convIn(state), frames.ReasonAgentOffline, now0)
			commitsFirst(t, d)
			if got := effectNames(d); !slices.Equal(got, want) {
				t.Errorf("requeue\n got  %s\n want %s", strings.Join(got, " "), strings.Join(want, " "))
			}
			want, ok = assignTo[state]
			if !ok {
				t.Fatalf("no assign row for %s", state)
			}
			d = r.assignTo(convIn(state), agentP("a2"), now0)
			commitsFirst(t, d)
			if got := effectNames(d); !slices.Equal(got, want) {
				t.Errorf("assign\n got  %s\n want %s", strings.Join(got, " "), strings.Join(want, " "))
			}
		})
	}
}

// TestTransitionDetails checks what the effect names do not show: the conversation written,
// the message stored, the frames.
func TestTransitionDetails(t *testing.T) {
	t.Parallel()
	r := testRules(false)
	at := func(d decision, i int) effect {
		t.Helper()
		if i >= len(d.effects) {
			t.Fatalf("decision has %d effects, want more than %d", len(d.effects), i)
		}
		return d.effects[i]
	}
	t.Run("handoff merges skills, keeps the higher priority, stamps the time", func(t *testing.T) {
		t.Parallel()
		cv := convIn(frames.StateBot)
		cv.c.Skills = []string{"vip"}
		d := r.decide(cv, command{Command: &fd.Command{Type: frames.CommandHandoff, Skills: []string{"billing"}, Priority: 5,
			Language: "fr", Summary: "refund"}}, now0)
		next := d.next()
		if !slices.Equal(next.GetSkills(), []string{"billing", "vip"}) || next.GetPriority() != 5 || next.GetLanguage() != "fr" ||
			next.GetSummary() != "refund" || !next.GetQueuedAt().AsTime().Equal(now0) || next.GetQueue() != "billing" {
			t.Errorf("next %v", next)
		}
	})
	t.Run("close stamps the time and drops the agent", func(t *testing.T) {
		t.Parallel()
		d := r.decide(convIn(frames.StateAssigned), command{Command: &fd.Command{Type: frames.CommandClose, Actor: byHolder}}, now0)
		next := d.next()
		if next.GetState() != frames.StateClosed || next.GetAgent() != nil || !next.GetClosedAt().AsTime().Equal(now0) {
			t.Errorf("next %v", next)
		}
		if ev := at(d, len(d.effects)-1).(event); ev.prev.GetId() != "a1" {
			t.Errorf("event %v names no previous agent", ev)
		}
	})
	t.Run("left message has a stable id and the customer's dedup id", func(t *testing.T) {
		t.Parallel()
		c := command{Command: &fd.Command{Type: frames.CommandLeaveMessage, Id: "lm1", Actor: byCustomer, Text: "hel\x07lo"}}
		m1 := at(r.decide(convIn(frames.StateAssigned), c, now0), 0).(publishMessage)
		m2 := at(r.decide(convIn(frames.StateAssigned), c, now0.Add(time.Minute)), 0).(publishMessage)
		if m1.m.GetId() != m2.m.GetId() || !strings.HasPrefix(m1.m.GetId(), "m_") {
			t.Errorf("message ids %q and %q, want one stable id", m1.m.GetId(), m2.m.GetId())
		}
		if m1.dedup != subjects.DedupID("acme", "u1", "lm1") || m1.m.GetText() != "hello" || m1.m.GetFrom().GetId() != "u1" {
			t.Errorf("message %v dedup %q", m1.m, m1.dedup)
		}
	})
	t.Run("transfer to an agent tells them with the conversation's details", func(t *testing.T) {
		t.Parallel()
		cv := convIn(frames.StateAssigned)
		cv.c.Summary = "refund"
		d := r.decide(cv, command{Command: &fd.Command{Type: frames.CommandTransfer, Actor: byHolder, ToAgent: "a2"}, seq: 9}, now0)
		f := at(d, len(d.effects)-1).(sendFrame).f
		if f.GetAgent().GetId() != "a2" || f.GetCustomer().GetId() != "u1" || f.GetSummary() != "refund" || f.GetConv() != "c1" {
			t.Errorf("frame %v", f)
		}
		if next := d.next(); !next.GetAssignedAt().AsTime().Equal(now0) || next.GetState() != frames.StateAssigned {
			t.Errorf("next %v", next)
		}
	})
	t.Run("to_bot refused says why and offers only leaving a message", func(t *testing.T) {
		t.Parallel()
		d := r.decide(convIn(frames.StateQueued), command{Command: &fd.Command{Type: frames.CommandToBot, Actor: byCustomer}}, now0)
		f := at(d, 0).(sendFrame).f
		if !slices.Equal(f.GetActions(), []string{frames.ActionLeaveMessage}) || f.GetMessage() == "" {
			t.Errorf("frame %v", f)
		}
	})
	t.Run("status sets name, capacity and skills", func(t *testing.T) {
		t.Parallel()
		d := r.decide(conversation{}, command{Command: &fd.Command{Type: frames.CommandStatus, Status: frames.StatusAvailable,
			Actor: byHolder, MaxChats: 4, AgentSkills: []string{"fr", "billing"}}, agent: "a7"}, now0)
		s := at(d, 0).(setStatus)
		if s.agent != "a7" || s.name != "Agent a1" || s.maxChats != 4 || !s.setSkills || !slices.Equal(s.skills, []string{"billing", "fr"}) {
			t.Errorf("status %+v", s)
		}
	})
}
