package engine

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// The transition matrix's label rows: its tenant defines no label, so every state refuses.
func init() {
	for _, state := range allStates {
		matrix[cell{state, frames.CommandLabel}] = []row{{name: "label the tenant does not define",
			cmd: &fd.Command{Actor: byHolder, Label: "vip"}, want: nothing, refused: "unknown_label"}}
	}
}

// labelRules is testRules with the labels vip and refund defined.
func labelRules() rules {
	r := testRules(false)
	r.cfg.Labels = []*fd.LabelDefinition{{Name: "vip"}, {Name: "refund", Title: "Refund"}}
	return r
}

// TestLabelTransitions: who may label a conversation, with which labels, and what changes.
func TestLabelTransitions(t *testing.T) {
	t.Parallel()
	supervisor := &fd.Participant{Id: "s1", Role: frames.RoleSupervisor}
	full := func(cv *conversation) {
		for i := range frames.MaxConversationLabels {
			cv.c.Labels = append(cv.c.Labels, "l"+strings.Repeat("x", i))
		}
	}
	tests := []struct {
		name       string
		state      string
		conv       func(*conversation)
		cmd        *fd.Command
		want       []string
		labels     []string // the conversation's labels written, when it is written
		refused    string
		wantLabels bool
	}{
		{name: "holder adds", state: frames.StateAssigned, cmd: &fd.Command{Actor: byHolder, Label: "vip"},
			want: []string{"write(assigned a1)", "event(labeled label_added by=a1)"}, labels: []string{"vip"}},
		{name: "labels stay sorted", state: frames.StateAssigned, conv: func(cv *conversation) { cv.c.Labels = []string{"vip"} },
			cmd:  &fd.Command{Actor: byHolder, Label: "refund"},
			want: []string{"write(assigned a1)", "event(labeled label_added by=a1)"}, labels: []string{"refund", "vip"}},
		{name: "holder removes", state: frames.StateAssigned, conv: func(cv *conversation) { cv.c.Labels = []string{"refund", "vip"} },
			cmd:  &fd.Command{Actor: byHolder, Label: "vip", Remove: true},
			want: []string{"write(assigned a1)", "event(labeled label_removed by=a1)"}, labels: []string{"refund"}},
		{name: "adding a label it has changes nothing", state: frames.StateAssigned,
			conv: func(cv *conversation) { cv.c.Labels = []string{"vip"} }, cmd: &fd.Command{Actor: byHolder, Label: "vip"}, want: nothing},
		{name: "removing a label it has not changes nothing", state: frames.StateAssigned,
			cmd: &fd.Command{Actor: byHolder, Label: "vip", Remove: true}, want: nothing},
		{name: "another agent may not", state: frames.StateAssigned, cmd: &fd.Command{Actor: agentP("a9"), Label: "vip"},
			want: nothing, refused: "not_holder"},
		{name: "an agent may not label a waiting conversation", state: frames.StateQueued,
			cmd: &fd.Command{Actor: byHolder, Label: "vip"}, want: nothing, refused: "not_holder"},
		{name: "a customer may not", state: frames.StateAssigned, cmd: &fd.Command{Actor: byCustomer, Label: "vip"},
			want: nothing, refused: "not_staff"},
		{name: "a supervisor labels a waiting conversation", state: frames.StateQueued, cmd: &fd.Command{Actor: supervisor, Label: "refund"},
			want: []string{"write(queued general)", "event(labeled label_added by=s1)"}, labels: []string{"refund"}},
		{name: "a supervisor labels a closed conversation", state: frames.StateClosed, cmd: &fd.Command{Actor: supervisor, Label: "refund"},
			want: []string{"write(closed)", "event(labeled label_added by=s1)"}, labels: []string{"refund"}},
		{name: "undefined label", state: frames.StateAssigned, cmd: &fd.Command{Actor: byHolder, Label: "gold"},
			want: nothing, refused: "unknown_label"},
		{name: "no label", state: frames.StateAssigned, cmd: &fd.Command{Actor: byHolder}, want: nothing, refused: "unknown_label"},
		{name: "at most MaxConversationLabels", state: frames.StateAssigned, conv: full, cmd: &fd.Command{Actor: byHolder, Label: "vip"},
			want: nothing, refused: "too_many_labels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cv := convIn(tc.state)
			if tc.conv != nil {
				tc.conv(&cv)
			}
			before := proto.Clone(cv.c)
			c := proto.Clone(tc.cmd).(*fd.Command)
			c.Type, c.Conv, c.Tenant = frames.CommandLabel, "c1", "acme"
			d := labelRules().decide(cv, command{Command: c, seq: 7}, now0)
			if got := effectNames(d); !slices.Equal(got, tc.want) {
				t.Errorf("effects\n got  %s\n want %s", strings.Join(got, " "), strings.Join(tc.want, " "))
			}
			commitsFirst(t, d)
			if d.refusal != tc.refused {
				t.Errorf("refusal %q, want %q", d.refusal, tc.refused)
			}
			if !proto.Equal(before, cv.c) {
				t.Errorf("decide changed its input")
			}
			if next := d.next(); next != nil && !slices.Equal(next.GetLabels(), tc.labels) {
				t.Errorf("labels written %v, want %v", next.GetLabels(), tc.labels)
			}
			for _, ef := range d.effects {
				if e, ok := ef.(event); ok && e.label != c.GetLabel() {
					t.Errorf("event names label %q, want %q", e.label, c.GetLabel())
				}
			}
		})
	}
}

// TestLabelCommandPublishesLabeled: through real NATS, a label command changes the
// conversation's labels in fd_conversations and the dispatcher announces each change as a
// labeled event carrying the labels after it; a label the tenant does not define, or a
// command from another agent, changes nothing.
func TestLabelCommandPublishesLabeled(t *testing.T) {
	t.Parallel()
	ten := baseTenant("acme")
	ten.Labels = []*fd.LabelDefinition{{Name: "vip"}, {Name: "refund"}}
	v := newEnv(t, ten)
	v.waitOwner(v.start("r1", testSettings()))
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")
	label := func(actor *fd.Participant, name string, remove bool) {
		v.convCmd(frames.CommandLabel, "c1", actor, func(c *fd.Command) { c.Label, c.Remove = name, remove })
	}
	label(agentP("a1"), "vip", false)
	label(agentP("a1"), "gold", false)   // not defined: refused
	label(agentP("a9"), "refund", false) // not the holder: refused
	label(&fd.Participant{Id: "s1", Role: frames.RoleSupervisor}, "refund", false)
	label(agentP("a1"), "vip", true)
	evs := v.wantEvents("c1", frames.EventLabeled, 3)
	want := []struct {
		reason, label string
		labels        []string
	}{
		{frames.ReasonLabelAdded, "vip", []string{"vip"}},
		{frames.ReasonLabelAdded, "refund", []string{"refund", "vip"}},
		{frames.ReasonLabelRemoved, "vip", []string{"refund"}},
	}
	for i, w := range want {
		if e := evs[i]; e.GetReason() != w.reason || e.GetLabel() != w.label || !slices.Equal(e.GetLabels(), w.labels) {
			t.Fatalf("event %d: %v, want %+v", i, e, w)
		}
	}
	if got := v.get("c1").GetLabels(); !slices.Equal(got, []string{"refund"}) {
		t.Fatalf("conversation labels %v, want [refund]", got)
	}
}
