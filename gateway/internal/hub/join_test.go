package hub_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func (r *rec) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.d {
		out = append(out, d.Event.GetId())
	}
	return out
}

// TestJoinSeesOnlyWhatArrivesAfter: a listener joining a subject the process already follows
// does not get a message that arrived before it asked but was still waiting for its worker.
// This is how an agent got a conversation's stale `queued` state after its `assigned` frame
// (TestDispatcherFrames/requeued_leaves_the_agent): the agent joins the conversation's events
// because of the assignment, published after the queued event, and the hub used to resolve the
// listeners only when the worker got to the queued event.
func TestJoinSeesOnlyWhatArrivesAfter(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	pub, _ := testkit.Connect(t, n.URL())
	// One worker, so a listener that blocks holds back every subject.
	h := newHub(t, nc, hub.Options{Workers: 1})
	events, user := subjects.Events("acme", "c1"), subjects.User("acme", "u1")
	first, late := &rec{}, &rec{}
	blocker := &gate{block: make(chan struct{})}
	if err := h.Subscribe(hub.Events, events, "c1", first); err != nil {
		t.Fatal(err)
	}
	if err := h.Subscribe(hub.User, user, "", blocker); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil { // the server has the subscriptions
		t.Fatal(err)
	}
	publish := func(subject string, m proto.Message) {
		t.Helper()
		b, _ := proto.Marshal(m)
		if err := pub.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
		if err := pub.FlushWithContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The worker blocks on the user frame; the stale event waits behind it. The hub's own
	// flush returns once its connection has read (and queued) everything sent before.
	publish(user, &fd.ServerFrame{Type: "assigned", Conv: "c1"})
	publish(events, &fd.ConversationEvent{Id: "stale", Conv: "c1"})
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if q := hub.Queued(h, events); q != 1 {
			return errorf("queued = %d, want the stale event only", q)
		}
		return nil
	})
	var returned atomic.Bool
	joined := make(chan error, 1)
	go func() {
		joined <- h.Subscribe(hub.Events, events, "c1", late)
		returned.Store(true)
	}()
	// The join asked for its place (or, without one, is already done) before the worker goes on.
	testkit.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !returned.Load() && hub.Queued(h, events) < 2 {
			return errorf("join not registered yet")
		}
		return nil
	})
	close(blocker.block)
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	publish(events, &fd.ConversationEvent{Id: "fresh", Conv: "c1"})
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if first.n() != 2 || late.n() == 0 {
			return errorf("first %v, late %v", first.events(), late.events())
		}
		return nil
	})
	if got := late.events(); !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("late listener got %v, want only the event published after it joined", got)
	}
	if got := first.events(); !slices.Equal(got, []string{"stale", "fresh"}) {
		t.Fatalf("first listener got %v", got)
	}
}
