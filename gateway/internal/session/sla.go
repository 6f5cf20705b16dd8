package session

import (
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// slaFrame is what a session is told of an event that changes no state: for the
// dispatcher's service-level announcements, agents and supervisors following the conversation
// get an sla frame (customers nothing: the targets are the desk's business); a transcript
// request is for the mail sender alone, a declined or missed offer for the reports. ok is false for the events that change state.
func slaFrame(ev *fd.ConversationEvent, conv, role string) (f *fd.ServerFrame, ok bool) {
	var state string
	switch ev.GetType() {
	case frames.EventSLAAtRisk:
		state = frames.SLAAtRisk
	case frames.EventSLABreached:
		state = frames.SLABreached
	case frames.EventTranscriptRequested, frames.EventOfferDeclined, frames.EventOfferMissed:
		return nil, true
	default:
		return nil, false
	}
	if role == frames.RoleCustomer {
		return nil, true
	}
	f = &fd.ServerFrame{Type: frames.TypeSLA, Conv: conv, State: state, Reason: ev.GetReason(), Agent: ev.GetAgent(),
		Customer: ev.GetCustomer(), Queue: ev.GetQueue()}
	if ev.GetDueAt().IsValid() {
		f.DueAt = ev.GetDueAt().AsTime().UTC().Format(time.RFC3339Nano)
	}
	return f, true
}
