package engine

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
