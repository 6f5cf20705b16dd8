package session

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestSLAFrame(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 7, 9, 5, 0, 0, time.UTC)
	agent := &fd.Participant{Id: "a1", Role: frames.RoleAgent}
	breach := &fd.ConversationEvent{Type: frames.EventSLABreached, Reason: frames.SLAFirstResponse, Agent: agent,
		Queue: "general", DueAt: timestamppb.New(due)}
	risk := &fd.ConversationEvent{Type: frames.EventSLAAtRisk, Reason: frames.SLAResolution, DueAt: timestamppb.New(due)}
	tests := []struct {
		name   string
		ev     *fd.ConversationEvent
		role   string
		want   *fd.ServerFrame
		wantOK bool
	}{
		{name: "breach to the agent", ev: breach, role: frames.RoleAgent, wantOK: true,
			want: &fd.ServerFrame{Type: frames.TypeSLA, Conv: "c1", State: frames.SLABreached, Reason: frames.SLAFirstResponse,
				Agent: agent, Queue: "general", DueAt: "2026-12-07T09:05:00Z"}},
		{name: "risk to a supervisor", ev: risk, role: frames.RoleSupervisor, wantOK: true,
			want: &fd.ServerFrame{Type: frames.TypeSLA, Conv: "c1", State: frames.SLAAtRisk, Reason: frames.SLAResolution,
				DueAt: "2026-12-07T09:05:00Z"}},
		{name: "nothing to the customer", ev: breach, role: frames.RoleCustomer, wantOK: true},
		{name: "a transcript request is nobody's frame", ev: &fd.ConversationEvent{Type: frames.EventTranscriptRequested},
			role: frames.RoleAgent, wantOK: true},
		{name: "a state change is not handled here", ev: &fd.ConversationEvent{Type: frames.EventAssigned},
			role: frames.RoleAgent, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := slaFrame(tt.ev, "c1", tt.role)
			if ok != tt.wantOK || !proto.Equal(got, tt.want) {
				t.Errorf("slaFrame = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTranscriptAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		ok    bool
	}{
		{"ann@example.com", true},
		{" ann@example.com ", true},
		{"", false},
		{"Ann <ann@example.com>", false},
		{"ann@example.com, bob@example.com", false},
		{"ann@example.com\r\nBcc: eve@example.com", false},
		{"not an address", false},
		{strings.Repeat("a", 250) + "@x.io", false},
	}
	for _, tt := range tests {
		err := transcriptAddress(&fd.ClientFrame{Type: frames.TypeTranscript, Conv: "c1", Email: tt.email})
		if (err == nil) != tt.ok {
			t.Errorf("transcriptAddress(%q) = %v, want ok %v", tt.email, err, tt.ok)
		}
	}
}
