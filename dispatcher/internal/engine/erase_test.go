package engine

import (
	"testing"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// byEraser is the persister's erase, the one actor allowed to erase.
var byEraser = &fd.Participant{Id: "persister", Role: frames.RoleSystem}

// The erase rows of the transition matrix: a close that says why, from the erase only.
func init() {
	refused := []row{
		{name: "by its customer", cmd: &fd.Command{Actor: byCustomer}, want: nothing},
		{name: "by an agent", cmd: &fd.Command{Actor: byHolder}, want: nothing},
	}
	matrix[cell{frames.StateBot, frames.CommandErase}] = append([]row{
		{name: "by the erase", cmd: &fd.Command{Actor: byEraser},
			want: []string{"owe(7 by=persister erased)", "write(closed)", "part-(u1)", "open-(u1)", "forget", "event(closed erased by=persister owed)"}},
	}, refused...)
	matrix[cell{frames.StateQueued, frames.CommandErase}] = append([]row{
		{name: "by the erase", cmd: &fd.Command{Actor: byEraser},
			want: []string{"owe(7 by=persister erased)", "write(closed)", "line-", "part-(u1)", "open-(u1)", "forget", "event(closed erased by=persister owed)"}},
		{name: "offered", conv: offeredA1, cmd: &fd.Command{Actor: byEraser},
			want: []string{"owe(7 by=persister erased)", "write(closed)", "line-", "part-(u1)", "open-(u1)", "forget", "event(closed erased by=persister owed)"}},
	}, refused...)
	matrix[cell{frames.StateAssigned, frames.CommandErase}] = append([]row{
		{name: "by the erase", cmd: &fd.Command{Actor: byEraser},
			want: []string{"owe(7 by=persister erased)", "write(closed)", "release(a1 handled)", "part-(u1)", "open-(u1)", "part-(a1)", "forget",
				"event(closed erased prev=a1 by=persister owed)"}},
	}, refused...)
	matrix[cell{frames.StateClosed, frames.CommandErase}] = []row{{name: "already closed", cmd: &fd.Command{Actor: byEraser}, want: nothing}}
}

// An erased conversation leaves nothing behind in the dispatcher: a queued one leaves the line
// (the queue shrinks, it is never assigned), an assigned one gives its agent's slot back (the
// next in line gets it), both are closed with reason erased, and another customer's waiting
// conversation is untouched.
func TestEraseLeavesNoQueueEntry(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	overview := v.overview()
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")
	v.openConv("c2", "u2", frames.StateQueued, 0)
	v.openConv("c3", "u3", frames.StateQueued, 0)
	overview(0, 2)

	v.convCmd(frames.CommandErase, "c2", byEraser, nil)
	v.wantState("c2", frames.StateClosed, "")
	overview(0, 1)

	v.convCmd(frames.CommandErase, "c1", byEraser, nil)
	v.wantState("c1", frames.StateClosed, "")
	// a1's slot came back and the only one left in line takes it: c2 left no entry behind.
	v.wantState("c3", frames.StateAssigned, "a1")
	overview(0, 0)
	for _, conv := range []string{"c1", "c2"} {
		evs := v.wantEvents(conv, frames.EventClosed, 1)
		if evs[0].GetReason() != frames.ReasonErased {
			t.Errorf("%s closed with reason %q, want %q", conv, evs[0].GetReason(), frames.ReasonErased)
		}
	}
	if evs := v.eventsOf("c2", frames.EventAssigned); len(evs) != 0 {
		t.Errorf("erased c2 was assigned: %v", evs)
	}

	// A customer cannot erase: their erase changes nothing, so their close after it is the
	// one that closes the conversation (commands apply in order).
	v.openConv("c4", "u4", frames.StateQueued, 0)
	overview(0, 1)
	v.convCmd(frames.CommandErase, "c4", customer("u4"), nil)
	v.convCmd(frames.CommandClose, "c4", customer("u4"), nil)
	if evs := v.wantEvents("c4", frames.EventClosed, 1); evs[0].GetReason() != frames.ReasonClosedByCustomer {
		t.Errorf("c4 closed with reason %q, want %q (the customer's erase applied)", evs[0].GetReason(), frames.ReasonClosedByCustomer)
	}
}
