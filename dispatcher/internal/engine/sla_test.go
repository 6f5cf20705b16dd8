package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestServiceLevelAnnouncements: with a policy of a 3 s first response and a 5 s resolution
// (at risk at half of each), a conversation nobody answers gets each announcement once, in
// order; one an agent answered at once breaches only the resolution target; one closed early
// gets none.
func TestServiceLevelAnnouncements(t *testing.T) {
	t.Parallel()
	ten := baseTenant("acme")
	ten.ServiceLevel = &fd.ServiceLevel{FirstResponseS: 3, ResolutionS: 5, WarnRatio: 0.5}
	v := newEnv(t, ten)
	v.waitOwner(v.start("r1", testSettings()))
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)

	v.openConv("answered", "u1", frames.StateQueued, 0)
	v.wantState("answered", frames.StateAssigned, "a1")
	reply := &fd.Message{Id: "m1", Tenant: v.tenant, Conv: "answered", From: agentP("a1"), Kind: frames.KindText,
		Text: "Hello, how can I help?", CreatedAt: timestamppb.Now()}
	data, _ := proto.Marshal(reply)
	msg := nats.NewMsg(subjects.Messages(v.tenant, "answered"))
	msg.Data = data
	if _, err := v.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID("m1")); err != nil {
		t.Fatal(err)
	}
	v.openConv("waiting", "u2", frames.StateQueued, 0) // a1 is full: nobody answers
	v.openConv("closed", "u3", frames.StateQueued, 0)
	v.convCmd(frames.CommandClose, "closed", customer("u3"), nil)
	v.wantState("closed", frames.StateClosed, "")

	// The last announcement due: the waiting conversation's resolution breach.
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if n := len(v.eventsOf("waiting", frames.EventSLABreached)); n < 2 {
			return fmt.Errorf("%d breaches announced", n)
		}
		return nil
	})
	breaches := v.wantEvents("waiting", frames.EventSLABreached, 2)
	// By then every other announcement was due at least a second ago: none is missing or twice.
	risks := v.wantEvents("waiting", frames.EventSLAAtRisk, 2)
	opened := v.get("waiting").GetQueuedAt().AsTime()
	for _, c := range []struct {
		ev     *fd.ConversationEvent
		reason string
		due    time.Duration
	}{
		{risks[0], frames.SLAFirstResponse, 3 * time.Second}, {breaches[0], frames.SLAFirstResponse, 3 * time.Second},
		{risks[1], frames.SLAResolution, 5 * time.Second}, {breaches[1], frames.SLAResolution, 5 * time.Second},
	} {
		if c.ev.GetReason() != c.reason || !c.ev.GetDueAt().AsTime().Equal(opened.Add(c.due)) ||
			c.ev.GetState() != frames.StateQueued || c.ev.GetCustomer().GetId() != "u2" {
			t.Errorf("%s event = %v, want reason %s due %v", c.ev.GetType(), c.ev, c.reason, opened.Add(c.due))
		}
		if at := c.ev.GetAt().AsTime(); at.Before(c.ev.GetDueAt().AsTime().Add(-c.due / 2)) {
			t.Errorf("%s %s announced at %v, before its time", c.ev.GetType(), c.reason, at)
		}
	}
	answered := v.wantEvents("answered", frames.EventSLABreached, 1)
	if ev := answered[0]; ev.GetReason() != frames.SLAResolution || ev.GetAgent().GetId() != "a1" {
		t.Errorf("answered conversation's breach = %v, want resolution with agent a1", ev)
	}
	if evs := v.eventsOf("answered", frames.EventSLAAtRisk); len(evs) != 1 || evs[0].GetReason() != frames.SLAResolution {
		t.Errorf("answered conversation's risks = %v, want resolution only", evs)
	}
	for _, typ := range []string{frames.EventSLAAtRisk, frames.EventSLABreached} {
		if evs := v.eventsOf("closed", typ); len(evs) != 0 {
			t.Errorf("closed conversation got %v", evs)
		}
	}
}
