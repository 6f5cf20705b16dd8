package engine

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestMakeBoard: the board lists the line in order with waits, queues and priorities, then the
// assigned conversations by assignment time with their agents; agents by name with their load
// and capacity; queues in the tenant's order with how many wait and since when. The roster
// keeps agents and queues and drops every customer.
func TestMakeBoard(t *testing.T) {
	t.Parallel()
	at := func(min int) time.Time { return now0.Add(time.Duration(min) * time.Minute) }
	v := boardView{
		queues: []string{"general", "billing"},
		waiting: []waitingRow{
			{e: queue.Entry{Conv: "c3", Customer: "u3", Queue: "billing", Priority: 10, Since: at(-2)}, pos: 1,
				c: &fd.Conversation{Customer: &fd.Participant{Id: "u3", Name: "Vera VIP"}}},
			{e: queue.Entry{Conv: "c4", Customer: "u4", Queue: "billing", Since: at(-9)}, pos: 2},
		},
		held: []*fd.Conversation{
			{Conv: "c2", Customer: &fd.Participant{Id: "u2", Name: "Bo"}, Agent: agentP("a2"), Queue: "general", AssignedAt: timestamppb.New(at(-1))},
			{Conv: "c1", Customer: &fd.Participant{Id: "u1", Name: "Al"}, Agent: agentP("a1"), Queue: "general", AssignedAt: timestamppb.New(at(-5))},
		},
		agents: []agentRow{
			{id: "a2", name: "Zed", status: frames.StatusAvailable, load: 1, capacity: 3, routable: true},
			{id: "a1", name: "Amy", status: frames.StatusAway, load: 1, capacity: 2},
			{id: "a9", name: "Otto", status: frames.StatusOffline, capacity: 3},
		},
	}
	b := makeBoard(v)
	var convs []string
	for _, c := range b.GetConversations() {
		convs = append(convs, c.GetConv()+"/"+c.GetState()+"/"+c.GetAgentId())
	}
	if got, want := convs, []string{"c3/queued/", "c4/queued/", "c1/assigned/a1", "c2/assigned/a2"}; !slices.Equal(got, want) {
		t.Fatalf("conversations %v, want %v", got, want)
	}
	if c := b.GetConversations()[0]; c.GetCustomerName() != "Vera VIP" || c.GetPriority() != 10 || c.GetPosition() != 1 || !c.GetSince().AsTime().Equal(at(-2)) {
		t.Fatalf("first waiting %v", c)
	}
	var agents []string
	for _, a := range b.GetAgents() {
		agents = append(agents, a.GetName()+"/"+a.GetStatus())
	}
	if got, want := agents, []string{"Amy/away", "Otto/offline", "Zed/available"}; !slices.Equal(got, want) {
		t.Fatalf("agents %v, want %v", got, want)
	}
	q := b.GetQueues()
	if len(q) != 2 || q[0].GetName() != "general" || q[0].GetWaiting() != 0 || q[1].GetWaiting() != 2 || !q[1].GetOldest().AsTime().Equal(at(-9)) {
		t.Fatalf("queues %v", q)
	}
	r := roster(b)
	if len(r.GetConversations()) != 0 || len(r.GetAgents()) != 3 || len(r.GetQueues()) != 2 {
		t.Fatalf("roster %v", r)
	}
}
