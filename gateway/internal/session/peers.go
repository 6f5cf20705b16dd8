package session

import (
	"context"

	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// A user's connection limit (max_connections_per_user, or one session when the tenant has
// single_session) holds across every gateway on the same NATS, without a registry:
//
//   - Every session announces itself on the user's Session subject when it opens and says
//     goodbye (online=false) when it ends. The announcement's `at` is the moment the session
//     opened, the same in every announcement, so every gateway orders a user's sessions alike
//     (by `at`, then session id): with clocks kept in step (NTP) that is the order they opened
//     in, and with skewed clocks it is still one order they all agree on.
//   - Each session remembers the newer live sessions of its user it has heard of, and closes
//     itself (4003, or 4002 in single-session mode) once they are as many as the limit: of a
//     user's sessions exactly the newest `limit` stay, each deciding for itself. A session only
//     remembers newer sessions and closes when it reaches the limit, so it holds at most
//     `limit` entries.
//   - A remembered session is forgotten ttl_s after its last announcement, so the sessions of a
//     gateway that died without goodbyes stop counting by themselves. To stay remembered, a
//     session repeats its announcement with its presence heartbeat (every ttl_s/3), but only
//     while it hears other sessions of its user (or just after a NATS reconnect, when it may
//     have missed them): a newcomer's announcement makes the older sessions repeat theirs,
//     which makes the newcomer repeat its own. The usual user, with one session, costs one
//     announcement at open and one at close, not a second heartbeat stream.
//
// The subject is followed through the hub like the User subject: one core subscription per user
// with sessions on this gateway, shared by them, and announcements reach only gateways holding
// one of the user's sessions. A per-gateway wildcard subscription would cost one subscription,
// but every gateway would then receive and decode every announcement of every user (with N
// gateways, N times the whole cluster's traffic), so it grows with the cluster instead of with
// the gateway's own sessions.
//
// The local check in Open (HTTP 429 before the upgrade) stays: it refuses at once what this
// gateway alone can tell is too many.

// Eviction reasons (metrics.Evictions).
const (
	evictReplaced = "replaced"
	evictTooMany  = "too_many_connections"
)

// newerSession reports whether the session (at, id) opened after (myAt, myID): the order every
// gateway applies to a user's sessions.
func newerSession(at int64, id string, myAt int64, myID string) bool {
	return at > myAt || (at == myAt && id > myID)
}

// announcement is this session's SessionPresence for the Session subject: at is when it
// opened.
func (s *Session) announcement(online bool) *fd.SessionPresence {
	p := s.presence(online)
	p.At = timestamppb.New(s.created)
	return p
}

// announce publishes the session's announcement on its user's Session subject.
func (s *Session) announce(online bool) {
	if err := s.m.publishProto(context.Background(), subjects.Session(s.tenant, s.user), s.announcement(online)); err != nil {
		s.m.log.Debug("session announcement", zap.Error(err))
	}
}

// hearsCompany reports whether the session heard another session of its user (or NATS came
// back) within the last presence ttl: then its announcement is repeated with each heartbeat.
func (s *Session) hearsCompany(nowNs int64) bool {
	ttl := int64(s.m.cfg.PresenceTTL)
	return nowNs-s.company.Load() <= ttl || nowNs-s.m.reconnected.Load() <= ttl
}

// onOpened follows a conversation another session of the user opened, as a state frame with
// reason opened on the User subject did before gateways lost the right to publish there:
// onUser joins only after checking the user is a participant, so an announcement cannot make a
// session follow a stranger's conversation, and only the states a conversation opens in are
// believed.
func (s *Session) onOpened(conv, state string) {
	if state != frames.StateBot && state != frames.StateQueued {
		return
	}
	s.onUser(&hub.Delivery{Kind: hub.User, Conv: conv,
		Frame: &fd.ServerFrame{Type: frames.TypeState, Conv: conv, State: state, Reason: frames.ReasonOpened}})
}

// onPeer handles an announcement of one of the user's sessions (hub.Session) heard at nowNs.
func (s *Session) onPeer(p *fd.SessionPresence, nowNs int64) {
	id := p.GetSession()
	if id == "" || id == s.id {
		return
	}
	if conv := p.GetOpened(); conv != "" && p.GetOnline() {
		s.onOpened(conv, p.GetOpenedState())
	}
	s.company.Store(nowNs)
	if !newerSession(p.GetAt().AsTime().UnixNano(), id, s.created.UnixNano(), s.id) {
		return // an older session's limit is its own business
	}
	ttl := time.Duration(p.GetTtlS()) * time.Second
	if ttl <= 0 {
		ttl = s.m.cfg.PresenceTTL
	}
	s.mu.Lock()
	if s.closed || s.closeCode != 0 {
		s.mu.Unlock()
		return
	}
	if !p.GetOnline() {
		delete(s.newer, id)
		s.mu.Unlock()
		return
	}
	if s.newer == nil {
		s.newer = make(map[string]int64, 1)
	}
	s.newer[id] = nowNs + int64(ttl)
	code, reason := s.overLimitLocked(nowNs)
	s.mu.Unlock()
	s.evict(code, reason)
}

// setPeerLimit applies a tenant's new limit, closing the session at once if it is now over it.
func (s *Session) setPeerLimit(maxConns int, single bool) {
	s.mu.Lock()
	s.maxConns, s.single = maxConns, single
	code, reason := 0, ""
	if !s.closed && s.closeCode == 0 {
		code, reason = s.overLimitLocked(time.Now().UnixNano())
	}
	s.mu.Unlock()
	s.evict(code, reason)
}

// overLimitLocked forgets the newer sessions not heard of for their ttl and returns the close
// code and reason when as many newer sessions as the limit remain (0 otherwise).
func (s *Session) overLimitLocked(nowNs int64) (int, string) {
	for id, deadline := range s.newer {
		if nowNs > deadline {
			delete(s.newer, id)
		}
	}
	if s.single {
		if len(s.newer) >= 1 {
			return frames.CloseSessionReplaced, evictReplaced
		}
		return 0, ""
	}
	if len(s.newer) >= s.maxConns {
		return frames.CloseTooManyConnections, evictTooMany
	}
	return 0, ""
}

// evict closes the session with code (nothing when 0), counting it.
func (s *Session) evict(code int, reason string) {
	if code == 0 {
		return
	}
	text := "too many connections"
	if code == frames.CloseSessionReplaced {
		text = "session replaced"
	}
	if s.closeWith(code, text) {
		s.m.metrics.Evictions.WithLabelValues(reason).Inc()
	}
}
