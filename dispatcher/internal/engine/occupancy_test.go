package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestAgentStatements: an agent's state is stated when first seen, when its status, load or
// capacity changes, and again after occupancyRestate while connected; an offline agent whose
// state does not change is not restated.
func TestAgentStatements(t *testing.T) {
	t.Parallel()
	avail := agentRow{id: "a1", status: frames.StatusAvailable, load: 1, capacity: 3}
	stated := func(r agentRow, ago time.Duration) map[string]agentState {
		return map[string]agentState{r.id: {status: r.status, load: r.load, capacity: r.capacity, at: now0.Add(-ago)}}
	}
	with := func(r agentRow, f func(*agentRow)) agentRow { f(&r); return r }
	offline := with(avail, func(r *agentRow) { r.status, r.load = frames.StatusOffline, 0 })
	tests := []struct {
		name string
		prev map[string]agentState
		rows []agentRow
		want []string
	}{
		{name: "first seen", rows: []agentRow{avail}, want: []string{"a1"}},
		{name: "unchanged", prev: stated(avail, time.Minute), rows: []agentRow{avail}},
		{name: "status changed", prev: stated(avail, time.Minute), rows: []agentRow{with(avail, func(r *agentRow) { r.status = frames.StatusAway })}, want: []string{"a1"}},
		{name: "load changed", prev: stated(avail, time.Minute), rows: []agentRow{with(avail, func(r *agentRow) { r.load = 2 })}, want: []string{"a1"}},
		{name: "capacity changed", prev: stated(avail, time.Minute), rows: []agentRow{with(avail, func(r *agentRow) { r.capacity = 5 })}, want: []string{"a1"}},
		{name: "connected, restated hourly", prev: stated(avail, occupancyRestate), rows: []agentRow{avail}, want: []string{"a1"}},
		{name: "offline, not restated", prev: stated(offline, 5*occupancyRestate), rows: []agentRow{offline}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for id, st := range agentStatements(tt.prev, tt.rows, now0) {
				if !st.at.Equal(now0) {
					t.Fatalf("stated at %v", st.at)
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("stated %v, want %v", got, tt.want)
			}
		})
	}
}

// statedOf reads the distinct successive states stated for agent, as "status load/capacity".
func (v *env) statedOf(agent string) ([]string, error) {
	cons, err := v.js.OrderedConsumer(context.Background(), subjects.StreamEvents,
		jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjects.AgentStatus(v.tenant, agent)}})
	if err != nil {
		return nil, err
	}
	batch, err := cons.FetchNoWait(1000)
	if err != nil {
		return nil, err
	}
	var got []string
	for m := range batch.Messages() {
		var ev fd.AgentStatusEvent
		if err := proto.Unmarshal(m.Data(), &ev); err != nil {
			return nil, err
		}
		if ev.GetId() == "" || m.Headers().Get(jetstream.MsgIDHeader) != ev.GetId() || ev.GetTenant() != v.tenant ||
			ev.GetAgent() != agent || !ev.GetAt().IsValid() {
			return nil, fmt.Errorf("event %v with headers %v", &ev, m.Headers())
		}
		s := fmt.Sprintf("%s %d/%d", ev.GetStatus(), ev.GetLoad(), ev.GetCapacity())
		if len(got) == 0 || got[len(got)-1] != s {
			got = append(got, s)
		}
	}
	return got, batch.Error()
}

// TestAgentStatusEvents: an agent going available, taking a conversation and going away is
// stated in FD_EVENTS on the agent's own subject, in order, each event with its id as the
// message id.
func TestAgentStatusEvents(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	latest := func(want string) {
		t.Helper()
		testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
			got, err := v.statedOf("a1")
			if err != nil {
				return err
			}
			if len(got) == 0 || got[len(got)-1] != want {
				return fmt.Errorf("stated %v, want %s last", got, want)
			}
			return nil
		})
	}
	v.online("a1", "s1", 2)
	v.status("a1", frames.StatusAvailable)
	latest("available 0/2")
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")
	latest("available 1/2")
	v.status("a1", frames.StatusAway)
	latest("away 1/2")
	got, err := v.statedOf("a1")
	if err != nil {
		t.Fatal(err)
	}
	// Before a1's first heartbeat, the actor may state what its record says (away, offline).
	for len(got) > 0 && got[0] != "available 0/2" {
		got = got[1:]
	}
	if want := []string{"available 0/2", "available 1/2", "away 1/2"}; !slices.Equal(got, want) {
		t.Fatalf("stated %v, want %v", got, want)
	}
}
