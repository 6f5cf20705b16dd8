package engine

import (
	"testing"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestTranscriptRequested: a transcript command becomes one transcript_requested event with
// the address, whatever the conversation's state, and a retried command is one event; a
// command for an unknown conversation is nothing.
func TestTranscriptRequested(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	v.openConv("c1", "u1", frames.StateQueued, 0)
	ask := func(id, conv string) {
		v.publish(subjects.ConvCommands(v.tenant, conv), &fd.Command{Id: id, Conv: conv, Type: frames.CommandTranscript,
			Actor: customer("u1"), Email: "ann@example.com"})
	}
	ask("t1", "c1")
	ask("t0", "nope")
	evs := v.wantEvents("c1", frames.EventTranscriptRequested, 1)
	if ev := evs[0]; ev.GetEmail() != "ann@example.com" || ev.GetCustomer().GetId() != "u1" || ev.GetState() != frames.StateQueued {
		t.Fatalf("event %v", ev)
	}
	v.convCmd(frames.CommandClose, "c1", customer("u1"), nil)
	v.wantState("c1", frames.StateClosed, "")
	// The same request again (a retried frame has the same command id, a new publish of it
	// too), then a new one after the close: one more event.
	ask("t1", "c1")
	ask("t2", "c1")
	evs = v.wantEvents("c1", frames.EventTranscriptRequested, 2)
	if evs[1].GetState() != frames.StateClosed {
		t.Fatalf("second request %v", evs[1])
	}
	if n := len(v.eventsOf("nope", "")); n != 0 {
		t.Fatalf("unknown conversation got %d events", n)
	}
}
