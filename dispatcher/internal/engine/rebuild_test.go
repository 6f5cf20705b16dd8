package engine

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestOwedEvent: a takeover owes the event of a conversation's revision when the stream's last
// event is older, and it is the event the revision made: the rating's when the last stored
// event does not carry the rating yet, else the state's.
func TestOwedEvent(t *testing.T) {
	t.Parallel()
	rating := &fd.Rating{Score: 4, Scale: frames.ScaleFive, At: timestamppb.New(now0)}
	conv := func(state string, rated bool) *fd.Conversation {
		c := convIn(state).c
		if state == frames.StateClosed {
			c.LastAgent = agentP("a1")
		}
		if rated {
			c.Rating = rating
		}
		return c
	}
	stored := func(typ string, rev uint64, rated bool) *fd.ConversationEvent {
		ev := &fd.ConversationEvent{Type: typ, Revision: rev}
		if rated {
			ev.Rating = rating
		}
		return ev
	}
	closedBy := convRecord{By: actorOf(agentP("a1")), Reason: frames.ReasonClosedByAgent}
	tests := []struct {
		name string
		c    *fd.Conversation
		last *fd.ConversationEvent
		rec  convRecord
		want string // the event's String, "" for none
	}{
		{name: "stored", c: conv(frames.StateClosed, true), last: stored(frames.EventRated, 7, true)},
		{name: "a later one stored", c: conv(frames.StateAssigned, false), last: stored(frames.EventTransferred, 8, false)},
		{name: "rated after the close", c: conv(frames.StateClosed, true), last: stored(frames.EventClosed, 6, false),
			want: "event(rated prev=a1 by=u1 owed)"},
		{name: "rated, nothing stored", c: conv(frames.StateClosed, true), want: "event(rated prev=a1 by=u1 owed)"},
		{name: "the rating stored, a later change not", c: conv(frames.StateClosed, true), last: stored(frames.EventRated, 6, true),
			want: "event(closed prev=a1 owed)"},
		{name: "closed", c: conv(frames.StateClosed, false), last: stored(frames.EventAssigned, 6, false), rec: closedBy,
			want: "event(closed closed_by_agent prev=a1 by=a1 owed)"},
		{name: "closed, nothing stored", c: conv(frames.StateClosed, false), rec: closedBy,
			want: "event(closed closed_by_agent prev=a1 by=a1 owed)"},
		{name: "closed and stored", c: conv(frames.StateClosed, false), last: stored(frames.EventClosed, 7, false), rec: closedBy},
		{name: "queued", c: conv(frames.StateQueued, false), last: stored(frames.EventOpened, 6, false), want: "event(queued)"},
		{name: "assigned", c: conv(frames.StateAssigned, false), want: "event(assigned)"},
		{name: "back to the bot", c: conv(frames.StateBot, false), last: stored(frames.EventQueued, 6, false), want: "event(state to_bot owed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ef, owed := owedEvent(tt.c, 7, tt.last, tt.rec)
			got := ""
			if owed {
				got = ef.String()
			}
			if got != tt.want {
				t.Fatalf("owed %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRepairedEventIsTheLiveOne: the event a takeover publishes for a lost rating, close or
// return to the bot is the one the change made, byte for byte and under the same id, so a
// repair racing the original is stored once and consumers cannot tell them apart. The
// takeover knows the conversation as written and the record the change wrote first (owe).
func TestRepairedEventIsTheLiveOne(t *testing.T) {
	t.Parallel()
	closedBy := func(agent string) conversation {
		cv := convIn(frames.StateClosed)
		cv.c.LastAgent = agentP(agent)
		return cv
	}
	tests := []struct {
		name string
		cv   conversation
		cmd  *fd.Command
		bot  bool
		typ  string
	}{
		{name: "rated", cv: closedBy("a1"), typ: frames.EventRated,
			cmd: &fd.Command{Type: frames.CommandRate, Conv: "c1", Actor: byCustomer, Score: 4, Comment: "quick"}},
		{name: "closed by its agent", cv: convIn(frames.StateAssigned), typ: frames.EventClosed,
			cmd: &fd.Command{Type: frames.CommandClose, Conv: "c1", Actor: agentP("a1")}},
		{name: "closed by its customer while queued", cv: convIn(frames.StateQueued), typ: frames.EventClosed,
			cmd: &fd.Command{Type: frames.CommandClose, Conv: "c1", Actor: byCustomer}},
		{name: "closed by a supervisor", cv: convIn(frames.StateAssigned), typ: frames.EventClosed,
			cmd: &fd.Command{Type: frames.CommandClose, Conv: "c1", Actor: &fd.Participant{Id: "s1", Role: frames.RoleSupervisor, Name: "Sue"}}},
		{name: "erased", cv: convIn(frames.StateAssigned), typ: frames.EventClosed,
			cmd: &fd.Command{Type: frames.CommandErase, Conv: "c1", Actor: systemActor()}},
		{name: "back to the bot", cv: convIn(frames.StateQueued), bot: true, typ: frames.EventState,
			cmd: &fd.Command{Type: frames.CommandToBot, Conv: "c1", Actor: byCustomer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := testRules(tt.bot)
			r.cfg.Csat = &fd.Csat{Scale: frames.ScaleFive}
			d := r.decide(tt.cv, command{Command: tt.cmd, seq: 9}, now0)
			var (
				live *event
				rec  convRecord
				owes bool
			)
			for _, ef := range d.effects {
				switch ef := ef.(type) {
				case event:
					if ef.typ == tt.typ {
						live = &ef
					}
				case owe:
					// The record as stored and read back by the takeover.
					stored := convRecord{Cmd: ef.cmd, By: actorOf(ef.by), Reason: ef.reason}
					if err := json.Unmarshal(mustJSON(stored), &rec); err != nil {
						t.Fatal(err)
					}
					owes = true
				}
			}
			if live == nil || d.next() == nil || !owes || !commits(d.effects[0]) {
				t.Fatalf("no %s event owed first: %v", tt.typ, effectNames(d))
			}
			if !live.owed {
				t.Fatalf("the %s event does not settle its record: %v", tt.typ, effectNames(d))
			}
			const rev = 7
			cs := &convState{c: d.next(), rev: rev}
			repaired, owed := owedEvent(cs.c, rev, &fd.ConversationEvent{Type: frames.EventAssigned, Revision: rev - 1}, rec)
			if !owed {
				t.Fatalf("the lost %s event is not owed", tt.typ)
			}
			ten := &tenant{id: "acme"}
			a, b := ten.eventOf(cs, *live), ten.eventOf(cs, repaired)
			if live.at == nil {
				// Undated (a return to the bot): each is dated when published.
				a.data, b.data = undated(t, a.data), undated(t, b.data)
			}
			if a.id != subjects.EventID("acme", "c1", rev, tt.typ) || a.id != b.id || !bytes.Equal(a.data, b.data) {
				t.Fatalf("repaired event %s %v, the live one's %s %v", b.id, repaired, a.id, *live)
			}
		})
	}
}

// undated is the event data without its time.
func undated(t *testing.T, data []byte) []byte {
	t.Helper()
	var ev fd.ConversationEvent
	if err := proto.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	ev.At = nil
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
