package session

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestFrameHandlersAdmit: the table's role and frame checks refuse before any conversation is
// looked up (the manager here has no record: a lookup would panic), with the error the client
// is told.
func TestFrameHandlersAdmit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxTextBytes+1)
	cases := []struct {
		name string
		role string
		f    *fd.ClientFrame
		want error // nil: admitted (only frames whose access is none)
	}{
		{"customer status", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeStatus}, errForbidden},
		{"agent status", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeStatus}, nil},
		{"supervisor status", frames.RoleSupervisor, &fd.ClientFrame{Type: frames.TypeStatus}, nil},
		{"customer transfer", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeTransfer, Conv: "c1"}, errForbidden},
		{"agent transfer to a bad agent", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeTransfer, Conv: "c1", ToAgent: "a.b"}, errBadFrame},
		{"agent transfer to a bad queue", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeTransfer, Conv: "c1", ToQueue: "q*"}, errBadFrame},
		{"customer accept", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeAccept, Conv: "c1"}, errForbidden},
		{"customer decline", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeDecline, Conv: "c1"}, errForbidden},
		{"customer assist", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeAssist, Conv: "c1"}, errForbidden},
		{"agent handoff", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeHandoff}, errForbidden},
		{"customer handoff", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeHandoff}, nil},
		{"agent leave_message", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeLeaveMessage, Conv: "c1"}, errForbidden},
		{"agent to_bot", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeToBot, Conv: "c1"}, errForbidden},
		{"customer leave_message too long", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeLeaveMessage, Conv: "c1", Text: long}, errTooLarge},
		{"send too long", frames.RoleAgent, &fd.ClientFrame{Type: frames.TypeSend, Text: long}, errTooLarge},
		{"send", frames.RoleCustomer, &fd.ClientFrame{Type: frames.TypeSend, Text: "hi"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testManager(t)
			s := newSession(m, &token.Claims{Subject: "u1", Tenant: "acme", Role: tc.role}, &fd.Tenant{Id: "acme"},
				TenantLimits(&fd.Tenant{}), &stuckTransport{})
			h, ok := frameHandlers[tc.f.GetType()]
			if !ok {
				t.Fatalf("no handler for %s", tc.f.GetType())
			}
			err := s.admit(context.Background(), h, tc.f)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("admit = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestFrameHandlersCoverClientTypes: every client frame type but ping, which Handle answers
// before the rate limits, has a handler.
func TestFrameHandlersCoverClientTypes(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{frames.TypeSend, frames.TypeSync, frames.TypeHistory, frames.TypeTyping, frames.TypeRead,
		frames.TypeHandoff, frames.TypeStatus, frames.TypeTransfer, frames.TypeClose, frames.TypeAssist, frames.TypeAccept,
		frames.TypeDecline, frames.TypeLeaveMessage, frames.TypeToBot, frames.TypeTranscript} {
		if _, ok := frameHandlers[typ]; !ok {
			t.Errorf("no handler for %s", typ)
		}
	}
	if _, ok := frameHandlers[frames.TypePing]; ok {
		t.Error("ping has a handler; Handle answers it before the rate limits")
	}
}
