package ingest_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestDecodeAgentStatus: a well-formed agent status event is stored as it states; one whose
// subject names another tenant or agent, or that states what a report cannot count, is poison
// (dead-lettered, never stored under either tenant).
func TestDecodeAgentStatus(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	good := func() *fd.AgentStatusEvent {
		return &fd.AgentStatusEvent{Id: "acme.a1.x", Tenant: "acme", Agent: "a1", Status: "available", Load: 1, Capacity: 3,
			At: timestamppb.New(at)}
	}
	with := func(f func(*fd.AgentStatusEvent)) *fd.AgentStatusEvent { ev := good(); f(ev); return ev }
	tests := []struct {
		name    string
		subject string
		ev      *fd.AgentStatusEvent
		data    []byte
		poison  bool
	}{
		{name: "available", subject: subjects.AgentStatus("acme", "a1"), ev: good()},
		{name: "offline", subject: subjects.AgentStatus("acme", "a1"), ev: with(func(e *fd.AgentStatusEvent) { e.Status = "offline"; e.Load = 0 })},
		{name: "another tenant's subject", subject: subjects.AgentStatus("globex", "a1"), ev: good(), poison: true},
		{name: "another agent's subject", subject: subjects.AgentStatus("acme", "a2"), ev: good(), poison: true},
		{name: "a conversation event's subject", subject: subjects.Events("acme", "a1"), ev: good(), poison: true},
		{name: "no id", subject: subjects.AgentStatus("acme", "a1"), ev: with(func(e *fd.AgentStatusEvent) { e.Id = "" }), poison: true},
		{name: "no time", subject: subjects.AgentStatus("acme", "a1"), ev: with(func(e *fd.AgentStatusEvent) { e.At = nil }), poison: true},
		{name: "unknown status", subject: subjects.AgentStatus("acme", "a1"), ev: with(func(e *fd.AgentStatusEvent) { e.Status = "lunch" }), poison: true},
		{name: "negative load", subject: subjects.AgentStatus("acme", "a1"), ev: with(func(e *fd.AgentStatusEvent) { e.Load = -1 }), poison: true},
		{name: "not protobuf", subject: subjects.AgentStatus("acme", "a1"), data: []byte{0xff, 0xff, 0xff}, poison: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data
			if data == nil {
				data, _ = proto.Marshal(tt.ev)
			}
			r, _, err := ingest.DecodeAgentStatus(tt.subject, 1, data)
			if tt.poison {
				if !ingest.IsPoison(err) {
					t.Fatalf("err %v, want poison", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Tenant != "acme" || r.Agent != "a1" || r.ID != tt.ev.GetId() || r.Status != tt.ev.GetStatus() ||
				r.Load != tt.ev.GetLoad() || r.Capacity != 3 || !r.At.Equal(at) {
				t.Fatalf("row %+v", r)
			}
		})
	}
}
