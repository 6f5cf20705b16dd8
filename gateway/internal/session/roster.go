package session

import (
	"context"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// The roster (every agent of the tenant with their status and load, and the queues) feeds the
// console's transfer picker. It changes with every assignment and each copy lists every agent,
// so pushed to every staff session it cost agents² bytes: at 1,000 agents, 100 KB a second to
// each console, 100 MB a second in all, for a picker that is open a few seconds a day. A staff
// session therefore keeps the latest roster the hub hands it (a shared, already encoded frame)
// and writes it only while its console shows the picker: a `roster` frame starts that (the
// latest roster is sent at once, then every change) and `roster` with `remove` ends it.

// rosterState is a session's roster, under Session.mu.
type rosterState struct {
	latest    *hub.Delivery // the latest roster the hub handed the session, written or not
	following bool          // the console shows the picker
}

// onRoster keeps a roster delivery and writes it if the console follows the roster. Called
// with s.mu held.
func (s *Session) onRosterLocked(d *hub.Delivery) {
	s.roster.latest = d
	if s.roster.following {
		s.enqueueLocked(d.Encoded(s.binary), frames.TypeRoster)
	}
}

// handleRoster starts or ends following the roster; it is acked, and the latest roster, when
// the gateway has one yet, follows the ack.
func (s *Session) handleRoster(_ context.Context, f *fd.ClientFrame) error {
	s.send(&fd.ServerFrame{Type: frames.TypeAck, Id: f.GetId(), Ts: frames.Timestamp(time.Now())})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roster.following = !f.GetRemove()
	if s.roster.following && s.roster.latest != nil {
		s.enqueueLocked(s.roster.latest.Encoded(s.binary), frames.TypeRoster)
	}
	return nil
}
