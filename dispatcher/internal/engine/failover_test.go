package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestFailover runs two replicas, queues 200 customers, and kills the replica owning the
// tenant (connection closed, context cancelled, nothing flushed or released) once about half
// were served. The other replica takes the partition over, rebuilds the queue from
// JetStream and serves the rest: every customer is assigned exactly once, in queue order.
func TestFailover(t *testing.T) {
	t.Parallel()
	const customers, agents = 200, 4
	v := newEnv(t, baseTenant("acme"))
	r1 := v.start("r1", testSettings())
	first := v.waitOwner(r1)
	r2 := v.start("r2", testSettings())

	// Agents act like gateways would: on the assigned event (the frame may die with the
	// owner; the event is repaired by the next one), they handle and close the conversation.
	var mu sync.Mutex
	seen := map[string]bool{}
	var order []string
	closers := newWorkers(t)
	sub, err := v.nc.Subscribe(subjects.TenantEvents("acme"), func(m *nats.Msg) {
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) != nil || ev.GetType() != frames.EventAssigned {
			return
		}
		mu.Lock()
		dup := seen[ev.GetConv()]
		seen[ev.GetConv()] = true
		if !dup {
			order = append(order, ev.GetConv())
		}
		mu.Unlock()
		if !dup {
			closers.Go(func() { v.convCmd(frames.CommandClose, ev.GetConv(), ev.GetAgent(), nil) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	for i := range customers {
		v.openConv(fmt.Sprintf("c%03d", i), fmt.Sprint("u", i), frames.StateQueued, 0)
	}
	// Every customer is queued (the owner has taken them all in) before agents start.
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(v.eventsOfType(frames.EventQueued)); n != customers {
			return fmt.Errorf("%d queued", n)
		}
		return nil
	})
	for i := range agents {
		id := fmt.Sprint("a", i)
		v.online(id, "s-"+id, 1)
		v.status(id, frames.StatusAvailable)
	}
	testkit.CheckFor(t, 20*time.Second, 5*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(order) < customers/2 {
			return fmt.Errorf("%d served", len(order))
		}
		return nil
	})
	killed := time.Now()
	first.kill()
	second := r2
	if first == r2 {
		second = r1
	}
	v.waitOwner(second)
	t.Logf("takeover %v after the kill (lease TTL %v)", time.Since(killed), testSettings().LeaseTTL)

	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		for i := range customers {
			if c := v.get(fmt.Sprintf("c%03d", i)); c.GetState() != frames.StateClosed {
				return fmt.Errorf("c%03d is %s", i, c.GetState())
			}
		}
		return nil
	})

	// Exactly once, from the record (the stream), not from what subscribers saw.
	count := map[string]int{}
	var stored []string
	for _, ev := range v.events() {
		if ev.GetType() == frames.EventAssigned {
			count[ev.GetConv()]++
			stored = append(stored, ev.GetConv())
		}
	}
	for i := range customers {
		if conv := fmt.Sprintf("c%03d", i); count[conv] != 1 {
			t.Errorf("%s assigned %d times", conv, count[conv])
		}
	}
	if !slices.IsSorted(stored) {
		t.Errorf("assignment order broke queue order: %v", stored)
	}
}

func (v *env) eventsOfType(typ string) []*fd.ConversationEvent {
	var out []*fd.ConversationEvent
	for _, ev := range v.events() {
		if ev.GetType() == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestRestartKeepsState kills the only replica and starts a new one: the agent's status, the
// agent's current conversation and the waiting line come back from JetStream.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	r1 := v.start("r1", testSettings())
	v.waitOwner(r1)
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	boxes := map[string]*inbox{}
	for i := 1; i <= 3; i++ {
		boxes[fmt.Sprint("c", i)] = v.inbox(fmt.Sprint("u", i))
		v.openConv(fmt.Sprint("c", i), fmt.Sprint("u", i), frames.StateQueued, int32(i%2)) // c1, c3 priority 1
	}
	v.wantState("c1", frames.StateAssigned, "a1")
	boxes["c2"].wantPosition(t, "c2", 2)
	r1.kill()

	r2 := v.start("r2", testSettings())
	v.waitOwner(r2)
	// The new owner does not re-assign c1 and keeps c3 (priority) ahead of c2.
	v.convCmd(frames.CommandClose, "c1", agentP("a1"), nil)
	v.wantState("c3", frames.StateAssigned, "a1")
	boxes["c2"].wantPosition(t, "c2", 1)
	v.convCmd(frames.CommandClose, "c3", agentP("a1"), nil)
	v.wantState("c2", frames.StateAssigned, "a1")
	if n := len(v.eventsOf("c1", frames.EventAssigned)); n != 1 {
		t.Fatalf("c1 assigned %d times", n)
	}
}

// TestTakeoverPublishesALostClose: a close the owner committed (written into the
// conversation) but whose closed event it never stored, because FD_EVENTS refused it and the
// owner then ended, is published by the next owner's takeover as the closed event the close
// made (same id, reason, actor, previous agent and time), exactly once, and the dispatcher's
// record of the conversation is gone afterwards. Without it the persister and every consumer
// would keep the conversation open for good.
func TestTakeoverPublishesALostClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		end    func(*replica)
		agent  bool // assigned to a1 when it closes, else waiting in the line
		by     *fd.Participant
		reason string
	}{
		{name: "closed by its agent, the owner dies", end: (*replica).kill, agent: true, by: agentP("a1"),
			reason: frames.ReasonClosedByAgent},
		// A graceful stop tries the waiting events once more, and fails again.
		{name: "closed by its customer in the line, the owner stops", end: (*replica).stop, by: customer("u1"),
			reason: frames.ReasonClosedByCustomer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			v := newEnv(t, baseTenant("acme"))
			r1 := v.start("r1", testSettings())
			v.waitOwner(r1)
			if tt.agent {
				v.online("a1", "s1", 1)
				v.status("a1", frames.StatusAvailable)
				v.openConv("c1", "u1", frames.StateQueued, 0)
				v.wantState("c1", frames.StateAssigned, "a1")
				v.wantEvents("c1", frames.EventAssigned, 1)
			} else {
				v.openConv("c1", "u1", frames.StateQueued, 0)
				v.wantEvents("c1", frames.EventQueued, 1)
			}

			// The conversations' events lose their stream (the stream keeps what it holds):
			// the close commits, its event waits in the owner's outbox.
			v.refuseEvents()
			v.convCmd(frames.CommandClose, "c1", tt.by, nil)
			v.wantState("c1", frames.StateClosed, "")
			v.waitEventsWaiting(r1)
			tt.end(r1)
			testkit.Provision(t, v.js)
			if n := len(v.eventsOf("c1", frames.EventClosed)); n != 0 {
				t.Fatalf("%d closed events stored before the takeover", n)
			}

			v.waitOwner(v.start("r2", testSettings()))
			evs := v.wantEvents("c1", frames.EventClosed, 1)
			disp, err := v.js.KeyValue(ctx, subjects.BucketDispatcher)
			if err != nil {
				t.Fatal(err)
			}
			testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
				_, err := disp.Get(ctx, convRecordKey("acme", "c1"))
				if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
					return nil
				}
				return fmt.Errorf("record of c1 still there (%v)", err)
			})
			if n := len(v.eventsOf("c1", frames.EventClosed)); n != 1 {
				t.Fatalf("%d closed events, want 1", n)
			}
			e, err := v.conv.Get(ctx, subjects.ConversationKey("acme", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			ev, c := evs[0], v.get("c1")
			var prev string
			if tt.agent {
				prev = "a1"
			}
			if ev.GetId() != subjects.EventID("acme", "c1", e.Revision(), frames.EventClosed) || ev.GetRevision() != e.Revision() ||
				ev.GetState() != frames.StateClosed || ev.GetReason() != tt.reason || !proto.Equal(ev.GetActor(), tt.by) ||
				ev.GetPreviousAgent().GetId() != prev || !proto.Equal(ev.GetAt(), c.GetClosedAt()) {
				t.Fatalf("closed event %v, want the close of revision %d by %v (%s) at %v", ev, e.Revision(), tt.by, tt.reason,
					c.GetClosedAt().AsTime())
			}
		})
	}
}

// TestBackFromTheBotKeepsItsRecord: a conversation handed to the bot while FD_EVENTS refuses
// its events, then handed back to the queue, keeps its queue record once the waiting events
// are stored: the state event's record (owed) is its queue record again by then, which a
// takeover needs to put it back in the line.
func TestBackFromTheBotKeepsItsRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ten := baseTenant("acme")
	ten.Bot = &fd.Bot{Enabled: true}
	v := newEnv(t, ten)
	r1 := v.start("r1", testSettings())
	v.waitOwner(r1)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantEvents("c1", frames.EventQueued, 1)

	v.refuseEvents()
	v.convCmd(frames.CommandToBot, "c1", customer("u1"), nil)
	v.wantState("c1", frames.StateBot, "")
	v.convCmd(frames.CommandHandoff, "c1", customer("u1"), nil)
	v.wantState("c1", frames.StateQueued, "")
	testkit.Provision(t, v.js)
	v.wantEvents("c1", frames.EventState, 1)
	v.wantEvents("c1", frames.EventQueued, 2)

	disp, err := v.js.KeyValue(ctx, subjects.BucketDispatcher)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disp.Get(ctx, convRecordKey("acme", "c1")); err != nil {
		t.Fatalf("record of the queued c1: %v", err)
	}
}
