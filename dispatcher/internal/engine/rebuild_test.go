package engine

import (
	"bytes"
	"testing"

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
	tests := []struct {
		name string
		c    *fd.Conversation
		last *fd.ConversationEvent
		want string // the event's String, "" for none
	}{
		{name: "stored", c: conv(frames.StateClosed, true), last: stored(frames.EventRated, 7, true)},
		{name: "a later one stored", c: conv(frames.StateAssigned, false), last: stored(frames.EventTransferred, 8, false)},
		{name: "rated after the close", c: conv(frames.StateClosed, true), last: stored(frames.EventClosed, 6, false),
			want: "event(rated prev=a1 by=u1 owed)"},
		{name: "rated, nothing stored", c: conv(frames.StateClosed, true), want: "event(rated prev=a1 by=u1 owed)"},
		{name: "the rating stored, a later change not", c: conv(frames.StateClosed, true), last: stored(frames.EventRated, 6, true),
			want: "event(closed)"},
		{name: "closed", c: conv(frames.StateClosed, false), last: stored(frames.EventAssigned, 6, false), want: "event(closed)"},
		{name: "queued", c: conv(frames.StateQueued, false), last: stored(frames.EventOpened, 6, false), want: "event(queued)"},
		{name: "assigned", c: conv(frames.StateAssigned, false), want: "event(assigned)"},
		{name: "back to the bot", c: conv(frames.StateBot, false), last: stored(frames.EventQueued, 6, false), want: "event(state)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ef, owed := owedEvent(tt.c, 7, tt.last)
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

// TestRepairedRatingIsTheRatingsEvent: the rated event a takeover publishes for a lost rating
// is the one the rating made, byte for byte and under the same id, so a repair racing the
// original is stored once and consumers cannot tell them apart.
func TestRepairedRatingIsTheRatingsEvent(t *testing.T) {
	t.Parallel()
	cv := convIn(frames.StateClosed)
	cv.c.LastAgent = agentP("a1")
	r := testRules(false)
	r.cfg.Csat = &fd.Csat{Scale: frames.ScaleFive}
	d := r.decide(cv, command{Command: &fd.Command{Type: frames.CommandRate, Conv: "c1", Actor: byCustomer, Score: 4,
		Comment: "quick"}, seq: 9}, now0)
	var live *event
	for _, ef := range d.effects {
		if ev, ok := ef.(event); ok && ev.typ == frames.EventRated {
			live = &ev
		}
	}
	if live == nil || d.next() == nil {
		t.Fatalf("no rating: %v", effectNames(d))
	}
	const rev = 7
	cs := &convState{c: d.next(), rev: rev}
	repaired, owed := owedEvent(cs.c, rev, &fd.ConversationEvent{Type: frames.EventClosed, Revision: rev - 1})
	if !owed {
		t.Fatal("the lost rating is not owed")
	}
	ten := &tenant{id: "acme"}
	a, b := ten.eventOf(cs, *live), ten.eventOf(cs, repaired)
	if a.id != subjects.EventID("acme", "c1", rev, frames.EventRated) || a.id != b.id || !bytes.Equal(a.data, b.data) {
		t.Fatalf("repaired event %s %x, the rating's %s %x", b.id, b.data, a.id, a.data)
	}
}
