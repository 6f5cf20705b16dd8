package session

import (
	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// workspaceSubs are the tenant-wide subscriptions of the workspace a session holds from its
// start: the roster (agents and queues with their load, for the transfer picker) for staff,
// and the live board (waiting and assigned conversations too) for supervisors. Both are the
// dispatcher's snapshots on the session's own tenant's subjects, kept by the hub as the latest
// (hub.Overview), so a console that connects gets the current picture at once and every change
// after it, without polling; a customer gets neither, and no session another tenant's.
//
// Supervisors also watch any live conversation they open (Session.access joins it) and may
// write in it (conversationFor): that is joining a conversation.
func (s *Session) workspaceSubs() []convSub {
	switch s.role {
	case frames.RoleSupervisor:
		return []convSub{{hub.Overview, subjects.Roster(s.tenant)}, {hub.Overview, subjects.Board(s.tenant)}}
	case frames.RoleCustomer:
		return nil
	}
	return []convSub{{hub.Overview, subjects.Roster(s.tenant)}}
}
