package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestFoldCsat: the day's ratings rebuilt from stored events are those live counting makes:
// rated events of today (in the tenant's zone), each conversation once, for the agent the
// event names, or for older events the agent of the conversation's close read before it.
func TestFoldCsat(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	rated := func(conv, agent string, score int32, at time.Time) *fd.ConversationEvent {
		ev := &fd.ConversationEvent{Conv: conv, Type: frames.EventRated, Rating: &fd.Rating{Score: score, At: timestamppb.New(at)}}
		if agent != "" {
			ev.PreviousAgent = agentP(agent)
		}
		return ev
	}
	closed := func(conv, agent string) *fd.ConversationEvent {
		return &fd.ConversationEvent{Conv: conv, Type: frames.EventClosed, PreviousAgent: agentP(agent)}
	}
	// A checkpoint taken an hour ago with two ratings of a1's.
	checkpoint := csatCheckpoint{Day: "2026-03-02", At: now.Add(-time.Hour), Count: 2, Sum: 9,
		Agents: map[string][2]int{"a1": {2, 9}}}
	tests := []struct {
		name   string
		from   csatDay
		events []*fd.ConversationEvent
		total  csatSum
		agents map[string]csatSum
	}{
		{name: "none", agents: map[string]csatSum{}},
		{name: "two agents", total: csatSum{3, 12}, agents: map[string]csatSum{"a1": {2, 9}, "a2": {1, 3}},
			events: []*fd.ConversationEvent{rated("c1", "a1", 5, now), rated("c2", "a2", 3, now), rated("c3", "a1", 4, now)}},
		{name: "stored twice counts once", total: csatSum{1, 5}, agents: map[string]csatSum{"a1": {1, 5}},
			events: []*fd.ConversationEvent{rated("c1", "a1", 5, now), rated("c1", "a1", 5, now)}},
		{name: "an event naming no agent takes the close's", total: csatSum{2, 6}, agents: map[string]csatSum{"a2": {1, 4}},
			events: []*fd.ConversationEvent{closed("c1", "a2"), rated("c1", "", 4, now), rated("c2", "", 2, now)}},
		{name: "rated yesterday, published today", agents: map[string]csatSum{},
			events: []*fd.ConversationEvent{rated("c1", "a1", 5, now.Add(-16*time.Hour))}},
		{name: "other events change nothing", total: csatSum{1, 1}, agents: map[string]csatSum{"a1": {1, 1}},
			events: []*fd.ConversationEvent{{Conv: "c1", Type: frames.EventAssigned, Agent: agentP("a1")},
				rated("c1", "a1", 1, now), {Conv: "c2", Type: frames.EventRated}}},
		{name: "from a checkpoint", from: checkpoint.tally(), total: csatSum{3, 12}, agents: map[string]csatSum{"a1": {2, 9}, "a2": {1, 3}},
			events: []*fd.ConversationEvent{rated("c3", "a2", 3, now), rated("c3", "a2", 3, now)}},
		// Stored after the checkpoint, given before it (an event that waited in an outbox).
		{name: "in the checkpoint already", from: checkpoint.tally(), total: csatSum{2, 9}, agents: map[string]csatSum{"a1": {2, 9}},
			events: []*fd.ConversationEvent{rated("c1", "a1", 5, now.Add(-time.Hour)), rated("c2", "a1", 4, now.Add(-2*time.Hour))}},
		{name: "a checkpoint of yesterday", from: csatCheckpoint{Day: "2026-03-01", At: now.Add(-20 * time.Hour), Count: 9, Sum: 9}.tally(),
			total: csatSum{1, 2}, agents: map[string]csatSum{"a1": {1, 2}}, events: []*fd.ConversationEvent{rated("c1", "a1", 2, now.Add(-time.Hour))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := foldCsat(tt.from, tt.events, now, time.UTC)
			if d.day != "2026-03-02" || d.total != tt.total || fmt.Sprint(d.agents) != fmt.Sprint(tt.agents) {
				t.Fatalf("tally %s %+v %v, want %+v %v", d.day, d.total, d.agents, tt.total, tt.agents)
			}
		})
	}
}

// TestTakeoverKeepsTodaysRatings: the board's ratings of the day survive the owner's death and
// a restart: the new owner counts the ratings the previous one applied (per agent and in
// total), a rating refused because it was given already adds nothing, and ratings after the
// takeover add to them.
func TestTakeoverKeepsTodaysRatings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(*replica)
	}{
		{"the owner dies", (*replica).kill},
		{"the owner stops and another starts", (*replica).stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := baseTenant("acme")
			ten.Csat = &fd.Csat{Scale: frames.ScaleFive}
			v := newEnv(t, ten)
			board := v.watchBoard()
			r1 := v.start("r1", testSettings())
			v.waitOwner(r1)
			v.online("a1", "s1", 1)
			v.status("a1", frames.StatusAvailable)
			v.openConv("c1", "u1", frames.StateQueued, 0)
			v.wantState("c1", frames.StateAssigned, "a1")
			v.online("a2", "s2", 1)
			v.status("a2", frames.StatusAvailable)
			v.openConv("c2", "u2", frames.StateQueued, 0)
			v.wantState("c2", frames.StateAssigned, "a2")
			for _, c := range []struct{ conv, agent, cust string }{{"c1", "a1", "u1"}, {"c2", "a2", "u2"}} {
				v.convCmd(frames.CommandClose, c.conv, agentP(c.agent), nil)
				v.wantState(c.conv, frames.StateClosed, "")
			}
			v.convCmd(frames.CommandRate, "c1", customer("u1"), func(c *fd.Command) { c.Score = 4 })
			v.convCmd(frames.CommandRate, "c2", customer("u2"), func(c *fd.Command) { c.Score = 5 })
			board.wantCsat(t, csatSum{2, 9}, map[string]csatSum{"a1": {1, 4}, "a2": {1, 5}})

			tt.end(r1)
			board.mu.Lock()
			board.last = nil // from here on, only the new owner's boards
			board.mu.Unlock()
			v.waitOwner(v.start("r2", testSettings()))
			board.wantCsat(t, csatSum{2, 9}, map[string]csatSum{"a1": {1, 4}, "a2": {1, 5}})

			// c1 is rated already (refused, nothing counted); c3 is a new rating, of a1's. a2
			// steps away first, so c3 can go to a1 only: with both free, least busy then longest
			// idle would pick a1, but only while the new owner has heard a1's session, and on a
			// loaded machine a1's heartbeat may come later than the takeover or than its
			// one-second TTL; c3 then went to a2, the one agent online at that moment. Away,
			// a2 leaves c3 waiting in the line until a1 is back.
			v.status("a2", frames.StatusAway)
			testkit.CheckFor(t, waitLimit, 10*time.Millisecond, func() error {
				board.mu.Lock()
				defer board.mu.Unlock()
				for _, a := range board.last.GetAgents() {
					if a.GetId() == "a2" && a.GetStatus() == frames.StatusAway {
						return nil
					}
				}
				return errors.New("a2 not away yet")
			})
			v.convCmd(frames.CommandRate, "c1", customer("u1"), func(c *fd.Command) { c.Score = 1 })
			v.openConv("c3", "u3", frames.StateQueued, 0)
			v.wantState("c3", frames.StateAssigned, "a1")
			v.convCmd(frames.CommandClose, "c3", agentP("a1"), nil)
			v.wantState("c3", frames.StateClosed, "")
			v.convCmd(frames.CommandRate, "c3", customer("u3"), func(c *fd.Command) { c.Score = 2 })
			board.wantCsat(t, csatSum{3, 11}, map[string]csatSum{"a1": {2, 6}, "a2": {1, 5}})
		})
	}
}

// wantCsat waits for a board whose ratings of the day are total, and agents' as given.
func (w *boardWatch) wantCsat(t *testing.T, total csatSum, agents map[string]csatSum) {
	t.Helper()
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		b := w.last
		if c := b.GetCsat(); int(c.GetCount()) != total.count || int(c.GetSum()) != total.sum {
			return fmt.Errorf("board csat %v, want %+v", c, total)
		}
		for _, a := range b.GetAgents() {
			if want := agents[a.GetId()]; int(a.GetCsatCount()) != want.count || int(a.GetCsatSum()) != want.sum {
				return fmt.Errorf("agent %s csat %d/%d, want %+v", a.GetId(), a.GetCsatCount(), a.GetCsatSum(), want)
			}
		}
		return nil
	})
}

// TestTakeoverPublishesALostRating: a rating the owner committed (written into the
// conversation) but whose rated event it never stored, because FD_EVENTS refused it and the
// owner then ended, is published by the next owner's takeover as the rated event the rating
// made (same id, rating, actor and agent), exactly once, and the board counts it.
func TestTakeoverPublishesALostRating(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(*replica)
	}{
		{"the owner dies", (*replica).kill},
		// A graceful stop tries the waiting events once more, and fails again.
		{"the owner stops", (*replica).stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ten := baseTenant("acme")
			ten.Csat = &fd.Csat{Scale: frames.ScaleFive}
			v := newEnv(t, ten)
			board := v.watchBoard()
			r1 := v.start("r1", testSettings())
			v.waitOwner(r1)
			v.online("a1", "s1", 1)
			v.status("a1", frames.StatusAvailable)
			v.openConv("c1", "u1", frames.StateQueued, 0)
			v.wantState("c1", frames.StateAssigned, "a1")
			v.convCmd(frames.CommandClose, "c1", agentP("a1"), nil)
			v.wantEvents("c1", frames.EventClosed, 1)

			// The conversations' events lose their stream (the stream keeps what it holds):
			// the rating commits, its event waits in the owner's outbox.
			v.refuseEvents()
			v.convCmd(frames.CommandRate, "c1", customer("u1"), func(c *fd.Command) { c.Score = 4; c.Comment = "quick" })
			testkit.CheckFor(t, waitLimit, 10*time.Millisecond, func() error {
				if v.get("c1").GetRating() == nil {
					return errors.New("not rated yet")
				}
				if n := testutil.ToFloat64(r1.e.m.waiting.WithLabelValues("acme")); n < 1 {
					return fmt.Errorf("%v events waiting", n)
				}
				return nil
			})
			tt.end(r1)
			testkit.Provision(t, v.js)
			if n := len(v.eventsOf("c1", frames.EventRated)); n != 0 {
				t.Fatalf("%d rated events stored before the takeover", n)
			}

			board.mu.Lock()
			board.last = nil // from here on, only the new owner's boards
			board.mu.Unlock()
			v.waitOwner(v.start("r2", testSettings()))
			board.wantCsat(t, csatSum{1, 4}, map[string]csatSum{"a1": {1, 4}})
			// Rebuilt before the board was: the repair is done, nothing more comes.
			evs := v.eventsOf("c1", frames.EventRated)
			if len(evs) != 1 {
				t.Fatalf("%d rated events, want 1", len(evs))
			}
			e, err := v.conv.Get(ctx, subjects.ConversationKey("acme", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			ev, rated := evs[0], v.get("c1").GetRating()
			if ev.GetId() != subjects.EventID("acme", "c1", e.Revision(), frames.EventRated) || ev.GetRevision() != e.Revision() ||
				!proto.Equal(ev.GetRating(), rated) || ev.GetRating().GetComment() != "quick" ||
				ev.GetActor().GetId() != "u1" || ev.GetPreviousAgent().GetId() != "a1" || !proto.Equal(ev.GetAt(), rated.GetAt()) {
				t.Fatalf("rated event %v, want the rating %v at revision %d", ev, rated, e.Revision())
			}
		})
	}
}

// TestTakeoverStartsFromTheCheckpoint: the owner notes the day's ratings in fd_dispatcher, and
// the next owner starts from the note and adds only the ratings stored after it: its board
// counts a rating whose event is no longer in the stream (purged here, so that only the note
// can tell it) and one stored after the note.
func TestTakeoverStartsFromTheCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ten := baseTenant("acme")
	ten.Csat = &fd.Csat{Scale: frames.ScaleFive}
	v := newEnv(t, ten)
	board := v.watchBoard()
	r1 := v.start("r1", testSettings())
	v.waitOwner(r1)
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")
	v.convCmd(frames.CommandClose, "c1", agentP("a1"), nil)
	v.wantState("c1", frames.StateClosed, "")
	v.convCmd(frames.CommandRate, "c1", customer("u1"), func(c *fd.Command) { c.Score = 4 })
	board.wantCsat(t, csatSum{1, 4}, map[string]csatSum{"a1": {1, 4}})
	disp, err := v.js.KeyValue(ctx, subjects.BucketDispatcher)
	if err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		e, err := disp.Get(ctx, csatKey("acme"))
		if err != nil {
			return err
		}
		var cp csatCheckpoint
		if err := json.Unmarshal(e.Value(), &cp); err != nil || cp.Count != 1 || cp.Sum != 4 {
			return fmt.Errorf("checkpoint %s (%v)", e.Value(), err)
		}
		return nil
	})
	r1.kill()

	s, err := v.js.Stream(ctx, subjects.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subjects.TenantEvents("acme"))); err != nil {
		t.Fatal(err)
	}
	// c9 was rated after the note (by a2, whose events this test publishes as an owner would).
	ev := &fd.ConversationEvent{Id: subjects.EventID("acme", "c9", 5, frames.EventRated), Tenant: "acme", Conv: "c9",
		Type: frames.EventRated, State: frames.StateClosed, Revision: 5, Customer: customer("u9"), Actor: customer("u9"),
		PreviousAgent: agentP("a2"), Rating: &fd.Rating{Score: 5, Scale: frames.ScaleFive, At: timestamppb.Now()}, At: timestamppb.Now()}
	data, _ := proto.Marshal(ev)
	if _, err := v.js.Publish(ctx, subjects.Events("acme", "c9"), data, jetstream.WithMsgID(ev.GetId())); err != nil {
		t.Fatal(err)
	}

	board.mu.Lock()
	board.last = nil // from here on, only the new owner's boards
	board.mu.Unlock()
	v.waitOwner(v.start("r2", testSettings()))
	board.wantCsat(t, csatSum{2, 9}, map[string]csatSum{"a1": {1, 4}, "a2": {1, 5}})
}
