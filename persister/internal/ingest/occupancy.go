package ingest

import (
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// DecodeAgentStatus decodes an agent status event (fd.v1.agentevt.<tenant>.<agent> in
// FD_EVENTS). The subject is authoritative for the tenant and the agent, like a
// conversation's; an event stating something a report cannot count is refused.
func DecodeAgentStatus(subject string, _ uint64, data []byte) (store.AgentStatusRow, []string, error) {
	var ev fd.AgentStatusEvent
	if err := proto.Unmarshal(data, &ev); err != nil {
		return store.AgentStatusRow{}, nil, poison("decode", "decode AgentStatusEvent: %w", err)
	}
	if subjects.AgentStatus(ev.GetTenant(), ev.GetAgent()) != subject || !subjects.ValidToken(ev.GetTenant()) ||
		!subjects.ValidToken(ev.GetAgent()) {
		return store.AgentStatusRow{}, nil, poison("invalid", "agent status event of %s/%s on subject %q", ev.GetTenant(), ev.GetAgent(), subject)
	}
	switch {
	case ev.GetId() == "" || len(ev.GetId()) > 256:
		return store.AgentStatusRow{}, nil, poison("invalid", "agent status event has no usable id")
	case !ev.GetAt().IsValid():
		return store.AgentStatusRow{}, nil, poison("invalid", "agent status event %s has no time", ev.GetId())
	case ev.GetLoad() < 0 || ev.GetCapacity() < 0:
		return store.AgentStatusRow{}, nil, poison("invalid", "agent status event %s has a negative load or capacity", ev.GetId())
	}
	switch ev.GetStatus() {
	case frames.StatusAvailable, frames.StatusAway, frames.StatusOffline:
	default:
		return store.AgentStatusRow{}, nil, poison("invalid", "agent status event %s has status %q", ev.GetId(), ev.GetStatus())
	}
	return store.AgentStatusRow{Tenant: ev.GetTenant(), ID: ev.GetId(), Agent: ev.GetAgent(), Status: ev.GetStatus(),
		Load: ev.GetLoad(), Capacity: ev.GetCapacity(), At: ev.GetAt().AsTime()}, nil, nil
}
