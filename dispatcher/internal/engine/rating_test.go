package engine

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// The rate command's rows of the transition matrix (transitions_test.go), for the matrix's
// tenant, which asks for no rating: only a closed conversation's customer is answered, and
// refused.
func init() {
	refused := []string{"frame(u1 notice rating_refused)"}
	for _, state := range []string{frames.StateBot, frames.StateQueued, frames.StateAssigned} {
		matrix[cell{state, frames.CommandRate}] = []row{
			{name: "not closed", cmd: &fd.Command{Actor: byCustomer, Score: 5}, want: refused, refused: frames.ReasonRatingRefused},
			{name: "staff do not rate", cmd: &fd.Command{Actor: byHolder, Score: 5}, want: nothing},
		}
	}
	matrix[cell{frames.StateClosed, frames.CommandRate}] = []row{
		{name: "tenant asks for none", cmd: &fd.Command{Actor: byCustomer, Score: 5}, want: refused, refused: frames.ReasonRatingRefused},
		{name: "staff do not rate", cmd: &fd.Command{Actor: byHolder, Score: 5}, want: nothing},
	}
}

// TestRateTransitions: a closed conversation is rated once, by its customer, on the tenant's
// scale, with a bounded comment; the agent who held it is told.
func TestRateTransitions(t *testing.T) {
	t.Parallel()
	closedBy := func(agent string, rated bool) conversation {
		cv := convIn(frames.StateClosed)
		if agent != "" {
			cv.c.LastAgent = agentP(agent)
		}
		if rated {
			cv.c.Rating = &fd.Rating{Score: 4, Scale: frames.ScaleFive}
		}
		return cv
	}
	tests := []struct {
		name    string
		scale   string
		cv      conversation
		by      *fd.Participant
		score   int32
		comment string
		want    []string
		refused string
		why     string // in the refusal's message
	}{
		{name: "five stars, agent told", scale: frames.ScaleFive, cv: closedBy("a1", false), by: byCustomer, score: 5, comment: "great",
			want: []string{"owe(9)", "write(closed)", "event(rated prev=a1 by=u1 owed)", "frame(a1 rated)"}},
		{name: "closed from the queue: nobody to tell", scale: frames.ScaleFive, cv: closedBy("", false), by: byCustomer, score: 1,
			want: []string{"owe(9)", "write(closed)", "event(rated by=u1 owed)"}},
		{name: "thumbs up", scale: frames.ScaleThumbs, cv: closedBy("a1", false), by: byCustomer, score: 2,
			want: []string{"owe(9)", "write(closed)", "event(rated prev=a1 by=u1 owed)", "frame(a1 rated)"}},
		{name: "twice", scale: frames.ScaleFive, cv: closedBy("a1", true), by: byCustomer, score: 5,
			want: []string{"frame(u1 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "already rated"},
		{name: "someone else's", scale: frames.ScaleFive, cv: closedBy("a1", false), by: customer("u9"), score: 5,
			want: []string{"frame(u9 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "not your conversation"},
		{name: "off the thumbs scale", scale: frames.ScaleThumbs, cv: closedBy("a1", false), by: byCustomer, score: 5,
			want: []string{"frame(u1 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "1 to 2"},
		{name: "zero", scale: frames.ScaleFive, cv: closedBy("a1", false), by: byCustomer, score: 0,
			want: []string{"frame(u1 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "1 to 5"},
		{name: "comment too long", scale: frames.ScaleFive, cv: closedBy("a1", false), by: byCustomer, score: 3,
			comment: strings.Repeat("好", frames.DefaultCommentChars+1),
			want:    []string{"frame(u1 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "comment over"},
		{name: "open still", scale: frames.ScaleFive, cv: convIn(frames.StateAssigned), by: byCustomer, score: 3,
			want: []string{"frame(u1 notice rating_refused)"}, refused: frames.ReasonRatingRefused, why: "once it is closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := testRules(false)
			r.cfg.Csat = &fd.Csat{Scale: tt.scale}
			before := proto.Clone(tt.cv.c)
			d := r.decide(tt.cv, command{Command: &fd.Command{Type: frames.CommandRate, Conv: "c1", Actor: tt.by,
				Score: tt.score, Comment: tt.comment}, seq: 9}, now0)
			if got := effectNames(d); !slices.Equal(got, tt.want) {
				t.Fatalf("effects %v, want %v", got, tt.want)
			}
			commitsFirst(t, d)
			if d.refusal != tt.refused {
				t.Errorf("refusal %q, want %q", d.refusal, tt.refused)
			}
			if !proto.Equal(before, tt.cv.c) {
				t.Errorf("decide changed its input")
			}
			if tt.refused != "" {
				if msg := d.effects[0].(sendFrame).f.GetMessage(); !strings.Contains(msg, tt.why) {
					t.Errorf("refusal message %q does not say %q", msg, tt.why)
				}
				return
			}
			next := d.next()
			if got := next.GetRating(); got.GetScore() != tt.score || got.GetScale() != tt.scale || got.GetComment() != tt.comment || got.GetAt() == nil {
				t.Errorf("rating written %v", got)
			}
			if ev := d.effects[2].(event); !proto.Equal(ev.at, next.GetRating().GetAt()) {
				t.Errorf("rated event dated %v, want the rating's %v", ev.at, next.GetRating().GetAt())
			}
			if len(d.effects) == 4 {
				f := d.effects[3].(sendFrame).f
				if f.GetRating().GetScore() != tt.score || f.GetCustomer().GetId() != "u1" || f.GetType() != frames.TypeRated {
					t.Errorf("rated frame %v", f)
				}
			}
		})
	}
}

// TestCloseRemembersTheAgent: the closed conversation names the agent who held it, who is told
// of its rating later.
func TestCloseRemembersTheAgent(t *testing.T) {
	t.Parallel()
	d := testRules(false).decide(convIn(frames.StateAssigned), command{Command: &fd.Command{Type: frames.CommandClose, Conv: "c1",
		Actor: byHolder}, seq: 9}, now0)
	if got := d.next().GetLastAgent().GetId(); got != "a1" {
		t.Fatalf("last agent %q", got)
	}
}
