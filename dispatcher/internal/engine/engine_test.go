package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestQueuedPositionsAndService(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	boxes := map[string]*inbox{}
	for i := 1; i <= 3; i++ {
		cust := fmt.Sprint("u", i)
		boxes[cust] = v.inbox(cust)
		v.openConv(fmt.Sprint("c", i), cust, frames.StateQueued, 0)
	}
	for i := 1; i <= 3; i++ {
		boxes[fmt.Sprint("u", i)].wantPosition(t, fmt.Sprint("c", i), int32(i))
	}
	// Nobody is online: every customer was told so at once, with the choices they have.
	for _, b := range boxes {
		n := b.last(frames.TypeNotice)
		if n == nil || n.GetReason() != frames.ReasonNoAgents || !slices.Contains(n.GetActions(), frames.ActionLeaveMessage) {
			t.Fatalf("no-agents notice = %v", n)
		}
	}
	if ev := v.wantEvents("c2", frames.EventQueued, 1); ev[0].GetPosition() != 2 || ev[0].GetState() != frames.StateQueued {
		t.Fatalf("queued events of c2 = %v", ev)
	}

	// An agent with one slot becomes available: c1 goes to them, the others move up.
	agentBox := v.inbox("a1")
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.wantState("c1", frames.StateAssigned, "a1")
	boxes["u2"].wantPosition(t, "c2", 1)
	boxes["u3"].wantPosition(t, "c3", 2)
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		f := agentBox.last(frames.TypeAssigned)
		if f == nil || f.GetConv() != "c1" || f.GetCustomer().GetId() != "u1" {
			return fmt.Errorf("agent frame %v", f)
		}
		return nil
	})
	// With an agent online the estimate exists (one slot, the prior handling time each).
	if f := boxes["u3"].last(frames.TypeQueued); f.EtaS == nil || f.GetEtaS() <= 0 {
		t.Fatalf("eta of u3 = %v", f)
	}
	if ev := v.wantEvents("c1", frames.EventAssigned, 1); ev[0].GetAgent().GetId() != "a1" || ev[0].GetRevision() == 0 {
		t.Fatalf("assigned events of c1 = %v", ev)
	}
	if _, err := v.part.Get(context.Background(), subjects.ParticipantKey("acme", "a1", "c1")); err != nil {
		t.Fatalf("agent participant key: %v", err)
	}

	// Closing frees the slot: the next customer is pulled immediately.
	v.convCmd(frames.CommandClose, "c1", agentP("a1"), nil)
	v.wantState("c2", frames.StateAssigned, "a1")
	boxes["u3"].wantPosition(t, "c3", 1)
	if c := v.get("c1"); c.GetState() != frames.StateClosed {
		t.Fatalf("c1 = %v", c)
	}
	if ev := v.wantEvents("c1", frames.EventClosed, 1); ev[0].GetPreviousAgent().GetId() != "a1" || ev[0].GetReason() != frames.ReasonClosedByAgent {
		t.Fatalf("closed events of c1 = %v", ev)
	}
	ctx := context.Background()
	for _, k := range []string{subjects.ParticipantKey("acme", "a1", "c1"), subjects.ParticipantKey("acme", "u1", "c1")} {
		if _, err := v.part.Get(ctx, k); err == nil {
			t.Fatalf("participant key %s not deleted", k)
		}
	}
	if _, err := v.open.Get(ctx, subjects.OpenKey("acme", "u1")); err == nil {
		t.Fatal("open key not deleted")
	}
}

func TestAgentComesOnlineAndPullsNext(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	// The agent said available in an earlier session, then left.
	stop := v.online("a1", "s1", 2)
	v.status("a1", frames.StatusAvailable)
	waitOverview := v.overview()
	waitOverview(1, 0)
	stop(true)
	waitOverview(0, 0)
	box := v.inbox("u1")
	v.openConv("c1", "u1", frames.StateQueued, 0)
	box.wantPosition(t, "c1", 1)
	waitOverview(0, 1)
	// A second device alone does not make an away agent available; a reconnect of an agent
	// whose status was available does (status persists across sessions).
	v.online("a1", "s2", 2)
	v.wantState("c1", frames.StateAssigned, "a1")
	waitOverview(1, 0)
}

func TestSecondDeviceDoesNotChangeStatus(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	v.online("a1", "phone", 2)
	v.online("a1", "laptop", 2)
	box := v.inbox("u1")
	v.openConv("c1", "u1", frames.StateQueued, 0)
	box.wantPosition(t, "c1", 1)
	// New agents are away: online twice, still nobody routable.
	if n := box.last(frames.TypeNotice); n == nil || n.GetReason() != frames.ReasonNoAgents {
		t.Fatalf("notice = %v", n)
	}
	if c := v.get("c1"); c.GetState() != frames.StateQueued {
		t.Fatalf("assigned to an away agent: %v", c)
	}
	v.status("a1", frames.StatusAvailable)
	v.wantState("c1", frames.StateAssigned, "a1")
}

func TestAgentLostRequeuedAtFront(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	stop := v.online("a1", "s1", 2)
	v.status("a1", frames.StatusAvailable)
	boxes := map[string]*inbox{}
	for i := 1; i <= 4; i++ {
		boxes[fmt.Sprint("c", i)] = v.inbox(fmt.Sprint("u", i))
		v.openConv(fmt.Sprint("c", i), fmt.Sprint("u", i), frames.StateQueued, 0)
	}
	v.wantState("c1", frames.StateAssigned, "a1")
	v.wantState("c2", frames.StateAssigned, "a1")
	boxes["c4"].wantPosition(t, "c4", 2)
	// The agent's gateway dies: no goodbye, heartbeats just stop. After the session TTL (1 s)
	// and the grace period (1 s) their conversations go back to the front of the line.
	lostAt := time.Now()
	stop(false)
	v.wantState("c1", frames.StateQueued, "")
	v.wantState("c2", frames.StateQueued, "")
	if d := time.Since(lostAt); d < 1500*time.Millisecond {
		t.Fatalf("re-queued after %v, before TTL + grace", d)
	}
	for conv, pos := range map[string]int32{"c1": 1, "c2": 2, "c3": 3, "c4": 4} {
		boxes[conv].wantPosition(t, conv, pos)
	}
	ev := v.wantEvents("c1", frames.EventRequeued, 1)
	if ev[0].GetReason() != frames.ReasonAgentOffline || ev[0].GetPreviousAgent().GetId() != "a1" {
		t.Fatalf("requeued events = %v", ev)
	}
	// Back online: they get their first two customers again, in order.
	v.online("a1", "s2", 2)
	v.wantState("c1", frames.StateAssigned, "a1")
	v.wantState("c2", frames.StateAssigned, "a1")
}

func TestTransferAndClose(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")

	// Refused transfers: the conversation stays with a1, who is told why.
	a1box := v.inbox("a1")
	v.online("a3", "s3", 3) // online with room, but away: never said available
	v.online("a4", "s4", 3)
	v.status("a4", frames.StatusAvailable)
	v.status("a4", frames.StatusAway) // said available, then away
	// a2's heartbeat follows a3's and a4's on one connection and the dispatcher applies them
	// in order: once c2 is a2's, a3 and a4 are known to be online.
	v.online("a2", "s2", 1)
	v.status("a2", frames.StatusAvailable)
	v.openConv("c2", "u2", frames.StateQueued, 0)
	v.wantState("c2", frames.StateAssigned, "a2")
	refusals := []struct {
		name, to, reason, message string
	}{
		{"full", "a2", frames.ReasonTransferRefused, "That agent has no free capacity."},
		{"away, never available", "a3", frames.ReasonAgentAway, "That agent is away and not taking new conversations."},
		{"away after available", "a4", frames.ReasonAgentAway, "That agent is away and not taking new conversations."},
		{"offline", "nobody", frames.ReasonTransferRefused, "That agent is not online."},
	}
	for _, tt := range refusals {
		before := len(a1box.all(frames.TypeNotice))
		v.convCmd(frames.CommandTransfer, "c1", agentP("a1"), func(c *fd.Command) { c.ToAgent = tt.to })
		testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			ns := a1box.all(frames.TypeNotice)
			if len(ns) == before {
				return fmt.Errorf("%s: no notice yet", tt.name)
			}
			if n := ns[len(ns)-1]; n.GetConv() != "c1" || n.GetReason() != tt.reason || n.GetMessage() != tt.message {
				t.Fatalf("%s: notice %v, want reason %q, message %q", tt.name, n, tt.reason, tt.message)
			}
			return nil
		})
		if c := v.get("c1"); c.GetState() != frames.StateAssigned || c.GetAgent().GetId() != "a1" {
			t.Fatalf("%s: c1 is %s/%q after a refused transfer", tt.name, c.GetState(), c.GetAgent().GetId())
		}
	}
	if ev := v.eventsOf("c1", frames.EventTransferred); len(ev) != 0 {
		t.Fatalf("refused transfers stored events: %v", ev)
	}
	// a2 closes c2, then c1 goes to a2.
	a2box := v.inbox("a2")
	v.convCmd(frames.CommandClose, "c2", agentP("a2"), nil)
	v.wantState("c2", frames.StateClosed, "")
	v.convCmd(frames.CommandTransfer, "c1", agentP("a1"), func(c *fd.Command) { c.ToAgent = "a2" })
	v.wantState("c1", frames.StateAssigned, "a2")
	ev := v.wantEvents("c1", frames.EventTransferred, 1)
	if ev[0].GetAgent().GetId() != "a2" || ev[0].GetPreviousAgent().GetId() != "a1" {
		t.Fatalf("transferred events = %v", ev)
	}
	if f := a2box.last(frames.TypeAssigned); f == nil || f.GetConv() != "c1" {
		t.Fatalf("a2 assigned frame = %v", f)
	}
	ctx := context.Background()
	if _, err := v.part.Get(ctx, subjects.ParticipantKey("acme", "a1", "c1")); err == nil {
		t.Fatal("old agent's participant key kept")
	}

	// To the billing queue: only a billing agent can take it.
	v.convCmd(frames.CommandTransfer, "c1", agentP("a2"), func(c *fd.Command) { c.ToQueue = "billing" })
	v.wantState("c1", frames.StateQueued, "")
	if c := v.get("c1"); c.GetQueue() != "billing" {
		t.Fatalf("queue = %s", c.GetQueue())
	}
	v.online("b1", "s3", 2, "billing")
	v.status("b1", frames.StatusAvailable)
	v.wantState("c1", frames.StateAssigned, "b1")

	// The customer closes.
	v.convCmd(frames.CommandClose, "c1", customer("u1"), nil)
	v.wantState("c1", frames.StateClosed, "")
	if ev := v.wantEvents("c1", frames.EventClosed, 1); ev[0].GetReason() != frames.ReasonClosedByCustomer || ev[0].GetPreviousAgent().GetId() != "b1" {
		t.Fatalf("closed = %v", ev)
	}
	// Redelivered close: nothing new.
	v.convCmd(frames.CommandClose, "c1", customer("u1"), nil)
	v.openConv("c3", "u3", frames.StateQueued, 0) // a marker processed after it
	v.wantState("c3", frames.StateAssigned, "a1")
	if ev := v.eventsOf("c1", frames.EventClosed); len(ev) != 1 {
		t.Fatalf("closed twice: %v", ev)
	}
}

func TestOfferNotAcceptedGoesToNext(t *testing.T) {
	t.Parallel()
	ten := baseTenant("acme")
	ten.Routing = &fd.Routing{OfferAccept: true, OfferTimeoutS: 1, MaxMissedOffers: 1}
	v := newEnv(t, ten)
	v.waitOwner(v.start("r1", testSettings()))
	a1, a2 := v.inbox("a1"), v.inbox("a2")
	v.online("a1", "s1", 2)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if f := a1.last(frames.TypeOffer); f == nil || f.GetConv() != "c1" || f.GetEtaS() != 1 {
			return fmt.Errorf("a1 offer = %v", f)
		}
		return nil
	})
	v.online("a2", "s2", 2)
	v.status("a2", frames.StatusAvailable)
	// a1 does not answer: after a second the offer goes to a2, and a1 is set away.
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if f := a2.last(frames.TypeOffer); f == nil || f.GetConv() != "c1" {
			return fmt.Errorf("a2 offer = %v", f)
		}
		return nil
	})
	if c := v.get("c1"); c.GetState() != frames.StateQueued {
		t.Fatalf("assigned before accept: %v", c)
	}
	if n := a1.all(frames.TypeNotice); len(n) == 0 {
		t.Fatal("a1 not told the offer expired")
	}
	v.convCmd(frames.CommandAccept, "c1", agentP("a1"), nil) // too late: ignored
	v.convCmd(frames.CommandAccept, "c1", agentP("a2"), nil)
	v.wantState("c1", frames.StateAssigned, "a2")
	// a1 is away now: a new customer is offered to a2 only.
	v.openConv("c2", "u2", frames.StateQueued, 0)
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if f := a2.last(frames.TypeOffer); f == nil || f.GetConv() != "c2" {
			return fmt.Errorf("a2 offer = %v", f)
		}
		return nil
	})
	for _, f := range a1.all(frames.TypeOffer) {
		if f.GetConv() == "c2" {
			t.Fatal("offered to an agent set away")
		}
	}
	// Decline: back to the queue, not offered to the decliner again.
	v.convCmd(frames.CommandDecline, "c2", agentP("a2"), nil)
	// Commands are applied in stream order, so c3 arrives after the decline.
	v.openConv("c3", "u3", frames.StateQueued, 0)
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if f := a2.last(frames.TypeOffer); f == nil || f.GetConv() != "c3" {
			return fmt.Errorf("a2 offer = %v", f)
		}
		return nil
	})
	// Both are events for the reports (offers.go): a1 missed c1's offer, a2 declined c2's.
	if ev := v.wantEvents("c1", frames.EventOfferMissed, 1)[0]; ev.GetAgent().GetId() != "a1" {
		t.Fatalf("missed offer %v", ev)
	}
	if ev := v.wantEvents("c2", frames.EventOfferDeclined, 1)[0]; ev.GetAgent().GetId() != "a2" {
		t.Fatalf("declined offer %v", ev)
	}
}

// botCases are a tenant with and without its bot, and the actions a customer nobody can serve is
// offered in each: going back to the assistant only when there is one.
var botCases = []struct {
	name        string
	bot         bool
	wantActions []string
}{
	{name: "bot on", bot: true, wantActions: []string{frames.ActionLeaveMessage, frames.ActionBot}},
	{name: "bot off", bot: false, wantActions: []string{frames.ActionLeaveMessage}},
}

// TestOutsideHoursToldAtOnce: a customer handed off outside business hours is told at once,
// offered to leave a message and, only when the tenant's bot is on, to go back to the assistant.
func TestOutsideHoursToldAtOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range botCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := baseTenant("acme")
			if tt.bot {
				ten.Bot = &fd.Bot{Enabled: true}
			}
			// Open only on a day that is neither today nor yesterday anywhere.
			day := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[(int(time.Now().UTC().Weekday())+3)%7]
			ten.Hours = &fd.BusinessHours{TimeZone: "Asia/Shanghai", Windows: []*fd.HoursWindow{{Days: []string{day}, Open: "09:00", Close: "10:00"}}}
			v := newEnv(t, ten)
			v.waitOwner(v.start("r1", testSettings()))
			box := v.inbox("u1")
			// A conversation handed off outside hours (by the bot, or by the customer's own
			// request for a human when there is no bot).
			v.openConv("c1", "u1", frames.StateBot, 0)
			start := time.Now()
			v.convCmd(frames.CommandHandoff, "c1", customer("u1"), func(c *fd.Command) { c.Reason = "customer"; c.Summary = "wants a refund" })
			var n *fd.ServerFrame
			testkit.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
				if n = box.last(frames.TypeNotice); n == nil || n.GetReason() != frames.ReasonOutsideHours {
					return fmt.Errorf("notice = %v", n)
				}
				return nil
			})
			t.Logf("told after %v", time.Since(start))
			if !slices.Equal(n.GetActions(), tt.wantActions) || strings.Contains(n.GetMessage(), "assistant") != tt.bot {
				t.Fatalf("notice actions %q message %q, want actions %q (bot %v)", n.GetActions(), n.GetMessage(), tt.wantActions, tt.bot)
			}
			// The customer leaves a message: it is stored in the conversation, which stays
			// queued for agents to see when they come online.
			v.convCmd(frames.CommandLeaveMessage, "c1", customer("u1"), func(c *fd.Command) { c.Text = "Please call me back" })
			testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if len(v.eventsOf("c1", frames.EventMessageLeft)) != 1 {
					return errors.New("no message_left event")
				}
				return nil
			})
			s, _ := v.js.Stream(context.Background(), subjects.StreamMessages)
			m, err := s.GetLastMsgForSubject(context.Background(), subjects.Messages("acme", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			var msg fd.Message
			if proto.Unmarshal(m.Data, &msg) != nil || msg.GetText() != "Please call me back" || msg.GetFrom().GetId() != "u1" {
				t.Fatalf("left message = %v", &msg)
			}
			if c := v.get("c1"); c.GetState() != frames.StateQueued || c.GetSummary() != "wants a refund" {
				t.Fatalf("conversation = %v", c)
			}
			v.online("a1", "s1", 2)
			v.status("a1", frames.StatusAvailable)
			v.wantState("c1", frames.StateAssigned, "a1")
		})
	}
}

// TestMaxWaitAndToBot: a customer waiting too long is told so; going back to the assistant
// moves the conversation to the bot when the tenant has one, and is refused otherwise, the
// customer keeping their place in the queue.
func TestMaxWaitAndToBot(t *testing.T) {
	t.Parallel()
	for _, tt := range botCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := baseTenant("acme")
			ten.Queues[0].MaxWaitS = 1
			if tt.bot {
				ten.Bot = &fd.Bot{Enabled: true}
			}
			v := newEnv(t, ten)
			v.waitOwner(v.start("r1", testSettings()))
			v.online("a1", "s1", 1)
			v.status("a1", frames.StatusAvailable)
			v.openConv("c0", "u0", frames.StateQueued, 0) // keeps a1 busy
			v.wantState("c0", frames.StateAssigned, "a1")
			box := v.inbox("u1")
			v.openConv("c1", "u1", frames.StateQueued, 0)
			var n *fd.ServerFrame
			testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if n = box.last(frames.TypeNotice); n == nil || n.GetReason() != frames.ReasonMaxWait {
					return fmt.Errorf("notice = %v", n)
				}
				return nil
			})
			if !slices.Equal(n.GetActions(), tt.wantActions) || strings.Contains(n.GetMessage(), "assistant") != tt.bot {
				t.Fatalf("notice actions %q message %q, want actions %q (bot %v)", n.GetActions(), n.GetMessage(), tt.wantActions, tt.bot)
			}
			v.convCmd(frames.CommandToBot, "c1", customer("u1"), nil)
			if tt.bot {
				v.wantState("c1", frames.StateBot, "")
			} else {
				testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
					if n := box.last(frames.TypeNotice); n == nil || n.GetReason() != frames.ReasonBotUnavailable ||
						!slices.Equal(n.GetActions(), []string{frames.ActionLeaveMessage}) {
						return fmt.Errorf("notice = %v", n)
					}
					return nil
				})
				if c := v.get("c1"); c.GetState() != frames.StateQueued {
					t.Fatalf("to_bot with the bot off moved the conversation: %v", c)
				}
			}
			v.convCmd(frames.CommandClose, "c0", agentP("a1"), nil)
			v.wantState("c0", frames.StateClosed, "")
			if tt.bot {
				if c := v.get("c1"); c.GetState() != frames.StateBot {
					t.Fatalf("bot conversation assigned: %v", c)
				}
			} else {
				// Still in the queue: the freed agent gets the customer.
				v.wantState("c1", frames.StateAssigned, "a1")
			}
		})
	}
}

func TestRoutingHook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer string // "" = no responder
		want   string
	}{
		{name: "hook chooses", answer: "a2", want: "a2"},
		{name: "unknown agent falls back", answer: "nobody", want: "a1"},
		{name: "silent hook falls back", answer: "", want: "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := baseTenant("acme")
			ten.Routing = &fd.Routing{Hook: true, HookTimeoutMs: 100}
			v := newEnv(t, ten)
			if tt.answer != "" {
				sub, _ := v.nc.Subscribe(subjects.Route("acme"), func(m *nats.Msg) {
					var req fd.RouteRequest
					if proto.Unmarshal(m.Data, &req) != nil || len(req.GetCandidates()) != 2 || req.GetCustomer().GetId() != "u1" {
						t.Errorf("route request = %v", &req)
					}
					data, _ := proto.Marshal(&fd.RouteReply{Agent: tt.answer})
					_ = m.Respond(data)
				})
				defer func() { _ = sub.Unsubscribe() }()
			}
			v.waitOwner(v.start("r1", testSettings()))
			waitOverview := v.overview()
			for _, a := range []string{"a1", "a2"} {
				v.online(a, "s-"+a, 2)
				v.status(a, frames.StatusAvailable)
			}
			// Heartbeats (core NATS) and commands (a stream) take different paths: the hook
			// is only asked about both agents once the dispatcher counts both.
			waitOverview(2, 0)
			v.openConv("c1", "u1", frames.StateQueued, 0)
			v.wantState("c1", frames.StateAssigned, tt.want)
		})
	}
}

func TestSkillAndLanguageQueues(t *testing.T) {
	t.Parallel()
	ten := baseTenant("acme")
	ten.Queues = append(ten.Queues, &fd.Queue{Name: "french", Language: "fr"})
	v := newEnv(t, ten)
	v.waitOwner(v.start("r1", testSettings()))
	v.online("plain", "s1", 5)
	v.status("plain", frames.StatusAvailable)
	v.openConv("fr1", "u1", frames.StateBot, 0)
	v.convCmd(frames.CommandHandoff, "fr1", customer("u1"), func(c *fd.Command) { c.Language = "fr" })
	v.openConv("bill1", "u2", frames.StateQueued, 0, "billing")
	v.openConv("gen1", "u3", frames.StateQueued, 0)
	v.wantState("gen1", frames.StateAssigned, "plain")
	for conv, q := range map[string]string{"fr1": "french", "bill1": "billing", "gen1": "general"} {
		if c := v.get(conv); c.GetQueue() != q {
			t.Fatalf("%s in queue %q, want %q", conv, c.GetQueue(), q)
		}
	}
	if c := v.get("fr1"); c.GetState() != frames.StateQueued {
		t.Fatalf("fr1 given to an agent without French: %v", c)
	}
	v.online("polyglot", "s2", 5, "fr", "billing")
	v.status("polyglot", frames.StatusAvailable)
	v.wantState("fr1", frames.StateAssigned, "polyglot")
	v.wantState("bill1", frames.StateAssigned, "polyglot")
}
