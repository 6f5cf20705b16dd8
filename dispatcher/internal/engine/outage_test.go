package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestEventsWaitWhileJetStreamRefuses removes the events stream, so every event publish
// fails, while a conversation is queued and assigned: the dispatcher goes on (the customer is
// told their place, the agent gets the conversation) and stores the waiting events, in order,
// once the stream is back.
func TestEventsWaitWhileJetStreamRefuses(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", outageSettings()))
	ctx := context.Background()
	if err := v.js.DeleteStream(ctx, subjects.StreamEvents); err != nil {
		t.Fatal(err)
	}
	box := v.inbox("u1")
	v.openConv("c1", "u1", frames.StateQueued, 0)
	box.wantPosition(t, "c1", 1)
	v.online("a1", "s1", 2)
	v.status("a1", frames.StatusAvailable)
	v.wantState("c1", frames.StateAssigned, "a1")
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := testutil.ToFloat64(r.e.m.waiting.WithLabelValues("acme")); n != 3 {
			return fmt.Errorf("%v events waiting, want 3", n)
		}
		return nil
	})

	testkit.Provision(t, v.js)
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var types []string
		for _, ev := range v.eventsOf("c1", "") {
			types = append(types, ev.GetType())
		}
		if !slices.Equal(types, []string{frames.EventOpened, frames.EventQueued, frames.EventAssigned}) {
			return fmt.Errorf("events of c1: %v", types)
		}
		return nil
	})
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := testutil.ToFloat64(r.e.m.waiting.WithLabelValues("acme")); n != 0 {
			return fmt.Errorf("%v events still waiting", n)
		}
		return nil
	})
}

// TestFailingCommandDoesNotHoldTheActor removes the messages stream, so a customer's
// leave_message cannot be stored and waits for its retry: meanwhile the actor still hears
// presence and assigns the conversation to the agent who comes online; once the stream is back
// the message is stored and announced.
func TestFailingCommandDoesNotHoldTheActor(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", outageSettings()))
	ctx := context.Background()
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.status("a1", frames.StatusAvailable) // chosen before any session: nobody is routable yet
	v.wantEvents("c1", frames.EventQueued, 1)
	if err := v.js.DeleteStream(ctx, subjects.StreamMessages); err != nil {
		t.Fatal(err)
	}
	v.convCmd(frames.CommandLeaveMessage, "c1", customer("u1"), func(c *fd.Command) { c.Text = "Please call me back" })
	// The command fails at least once before the agent's session starts.
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if testutil.ToFloat64(r.e.m.commands.WithLabelValues(frames.CommandLeaveMessage, "error")) < 1 {
			return errors.New("leave_message has not failed yet")
		}
		return nil
	})
	v.online("a1", "s1", 2)
	v.wantState("c1", frames.StateAssigned, "a1")
	if n := len(v.eventsOf("c1", frames.EventMessageLeft)); n != 0 {
		t.Fatalf("%d message_left events before the message was stored", n)
	}

	testkit.Provision(t, v.js)
	v.wantEvents("c1", frames.EventMessageLeft, 1)
	s, err := v.js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, subjects.Messages("acme", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	var msg fd.Message
	if proto.Unmarshal(m.Data, &msg) != nil || msg.GetText() != "Please call me back" {
		t.Fatalf("left message = %v", &msg)
	}
}

// outageSettings hold the leases through a busy machine's stalls: a lease lost while a stream is
// deleted would make the new owner's rebuild wait for the stream, which is not what these tests
// look at.
func outageSettings() Settings {
	s := testSettings()
	s.LeaseTTL = 10 * time.Second
	return s
}
