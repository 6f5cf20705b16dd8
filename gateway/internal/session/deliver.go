package session

import (
	"context"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Deliver implements hub.Listener. It runs on a hub worker and only queues frames; anything
// that needs a NATS round trip runs on a goroutine of the manager (spawn), which Shutdown waits
// for.
func (s *Session) Deliver(d *hub.Delivery) {
	switch d.Kind {
	case hub.Messages:
		s.mu.Lock()
		cs := s.convs[d.Conv]
		switch {
		case cs == nil:
		case cs.syncing > 0:
			// A replay is running: hold live messages so the client sees seq order.
			// Bounded so that, released at once into a queue the replay left under half full, they
			// cannot overflow it.
			if n := len(d.Encoded(s.binary)); len(cs.pending) < s.m.cfg.QueueFrames/2 && cs.held+n <= s.m.cfg.QueueBytes/4 {
				cs.pending = append(cs.pending, d)
				cs.held += n
			} else {
				cs.overflow = true // the replay goes on from where it stopped
			}
		case d.Seq > cs.lastSent:
			cs.lastSent = d.Seq
			s.enqueueLocked(d.Encoded(s.binary), frames.TypeMessage)
		}
		s.mu.Unlock()
	case hub.Live, hub.Reads:
		if d.Frame.GetType() == frames.TypeTyping && d.Frame.GetFrom().GetId() == s.user {
			return // one's own typing is not news
		}
		if !s.deltas && frames.IsDelta(d.Frame) {
			return // a client that did not ask for deltas shows the keyframes
		}
		s.mu.Lock()
		if s.convs[d.Conv] != nil {
			s.enqueueLocked(d.Encoded(s.binary), d.Frame.GetType())
		}
		s.mu.Unlock()
	case hub.Overview:
		s.mu.Lock()
		if d.Frame.GetType() == frames.TypeRoster {
			s.onRosterLocked(d) // roster.go: only while the console shows the picker
		} else {
			s.enqueueLocked(d.Encoded(s.binary), d.Frame.GetType())
		}
		s.mu.Unlock()
	case hub.Notes:
		s.onNote(d)
	case hub.Events:
		s.onEvent(d.Event, d.Conv)
	case hub.User:
		s.onUser(d)
	case hub.Session:
		s.onPeer(d.Presence, time.Now().UnixNano())
	}
}

func (s *Session) onEvent(ev *fd.ConversationEvent, conv string) {
	if !s.joined(conv) || ev.GetType() == frames.EventRated {
		return // a rating changes no state; the dispatcher tells the agent (rated frame)
	}
	if ev.GetType() == frames.EventLabeled {
		s.onLabeled(ev, conv) // workspace.go
		return
	}
	if f, ok := slaFrame(ev, conv, s.role); ok { // events that change no state (sla.go)
		if f != nil {
			s.send(f)
		}
		return
	}
	// The customer learns who serves them now: on assignment and on a transfer to an agent
	// (a transfer to a queue names none, and its state frame says queued).
	newAgent := ev.GetType() == frames.EventAssigned || (ev.GetType() == frames.EventTransferred && ev.GetAgent().GetId() != "")
	if newAgent && s.role == frames.RoleCustomer {
		s.send(&fd.ServerFrame{Type: frames.TypeAssigned, Conv: conv, Agent: ev.GetAgent(), Customer: ev.GetCustomer(),
			Queue: ev.GetQueue()})
	}
	s.send(&fd.ServerFrame{Type: frames.TypeState, Conv: conv, State: ev.GetState(), Reason: ev.GetReason()})
	leave := ev.GetType() == frames.EventClosed
	if (ev.GetType() == frames.EventTransferred || ev.GetType() == frames.EventRequeued) && s.role != frames.RoleCustomer &&
		ev.GetPreviousAgent().GetId() == s.user && ev.GetAgent().GetId() != s.user {
		leave = true
	}
	if leave {
		s.m.spawn(func(context.Context) { s.leave(conv) })
	}
}

// onUser forwards a frame addressed to the user. A frame about a conversation the session does
// not follow yet (an agent's assignment, a customer's conversation opened in another tab) makes
// it join first, so nothing sent afterwards is missed; a customer also gets the conversation
// replayed from the start, since it began elsewhere.
func (s *Session) onUser(d *hub.Delivery) {
	f := d.Frame
	conv := f.GetConv()
	joinable := f.GetType() == frames.TypeAssigned || (f.GetType() == frames.TypeState && f.GetState() != frames.StateClosed)
	if conv != "" && joinable && !s.joined(conv) {
		s.m.spawn(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, s.m.cfg.RequestTimeout)
			defer cancel()
			ok, err := s.m.Participant(ctx, s.tenant, s.user, conv)
			if err != nil || !ok {
				return
			}
			if err := s.join(conv); err != nil {
				return
			}
			s.mu.Lock()
			s.enqueueLocked(d.Encoded(s.binary), f.GetType())
			s.mu.Unlock()
			if s.role == frames.RoleCustomer {
				s.replay(ctx, "", conv, 0)
			}
		})
		return
	}
	s.mu.Lock()
	s.enqueueLocked(d.Encoded(s.binary), f.GetType())
	s.mu.Unlock()
	if f.GetType() == frames.TypeState && f.GetState() == frames.StateClosed && conv != "" {
		s.m.spawn(func(context.Context) { s.leave(conv) })
	}
}
