package session

import (
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Transport is a client connection as a session sees it.
type Transport interface {
	// Name is the transport's metric label: ws or sse.
	Name() string
	// Binary reports whether frames are protobuf (subprotocol frontdesk.v1.proto).
	Binary() bool
	// Write sends one encoded frame.
	Write(ctx context.Context, frame []byte) error
	// Close ends the connection with a close code; it must not block and may be called more
	// than once.
	Close(code int, reason string)
	// Abort drops the connection without a close handshake.
	Abort()
	// Ping checks the peer is alive (WebSocket ping; SSE comment).
	Ping(ctx context.Context) error
}

// DeltaTransport is a Transport whose client asked for streamed deltas when it connected
// (frames.QueryPartials); a session on any other transport gets partial keyframes only.
type DeltaTransport interface {
	Deltas() bool
}

// BatchWriter is a Transport that can write several frames at once (one system call for a
// WebSocket): the session's writer hands it everything queued since its last write.
type BatchWriter interface {
	WriteBatch(ctx context.Context, frames [][]byte) error
}

// NewID returns prefix followed by 20 random base32 characters (c_, m_, s_, v_, att_ ids).
func NewID(prefix string) string { return prefix + rand.Text()[:20] }

// Session is one client connection.
type Session struct {
	m       *Manager
	id      string
	claims  *token.Claims
	tenant  string
	user    string
	role    string
	me      *fd.Participant
	created time.Time // also the `at` of its announcements (peers.go)
	exp     time.Time
	tr      Transport
	binary  bool
	deltas  bool   // takes streamed deltas, not only keyframes (frames.PartialsDelta)
	page    string // the page a customer's widget is on (ContactPage), set before Start

	limiter  *rate.Limiter // the connection's bucket; nil when detached (the token's instead)
	handleMu sync.Mutex    // serialises Handle (SSE POSTs may arrive concurrently)
	abuse    int           // consecutive rate-limited frames, under handleMu
	detached bool          // answers frames only: never subscribes (SSE POST elsewhere)
	addr     string        // the client's address (its /64 for IPv6), for detached requests

	lastSeen atomic.Int64 // unix nanos of the last sign of life
	slot     int          // janitor slice
	lastPing int64        // janitor only
	lastBeat int64        // janitor only

	company   atomic.Int64 // unix nanos of the last announcement of another session of the user
	announced atomic.Bool  // the session announced itself on the user's Session subject

	mu       sync.Mutex
	started  bool
	closed   bool
	writing  bool
	queue    [][]byte
	queued   int // bytes of queue and of the batch being written
	convs    map[string]*convState
	userSubs []string    // subjects of user-level subscriptions
	roster   rosterState // roster.go

	// The user's connection limit across gateways (peers.go).
	single   bool             // one session per user (4002)
	maxConns int              // max_connections_per_user (4003)
	newer    map[string]int64 // newer live sessions of the user: id -> unix nanos when forgotten

	closeCode   int // a close asked for, sent once the queue is written
	closeReason string
}

// convState is what a session knows of one conversation it takes part in.
type convState struct {
	lastSent int64
	syncing  int
	pending  []*hub.Delivery
	held     int  // encoded bytes of pending, which are released into the queue at once
	overflow bool // live messages were dropped from pending during a replay
}

func newSession(m *Manager, c *token.Claims, t *fd.Tenant, lim Limits, tr Transport) *Session {
	s := &Session{
		m: m, id: NewID("s_"), claims: c, tenant: c.Tenant, user: c.Subject, role: c.Role,
		me:      &fd.Participant{Id: c.Subject, Role: c.Role, Name: c.Name},
		created: time.Now(), exp: c.Expiry(), tr: tr, binary: tr.Binary(),
		limiter: rate.NewLimiter(rate.Limit(lim.PerSecond), lim.Burst),
		convs:   map[string]*convState{},
		single:  t.GetSingleSession(), maxConns: lim.MaxConnsPerUser,
	}
	if d, ok := tr.(DeltaTransport); ok {
		s.deltas = d.Deltas()
	}
	s.lastSeen.Store(s.created.UnixNano())
	// Random phases spread the pings and heartbeats of sessions opened together.
	s.slot = mrand.IntN(janitorSlots)
	s.lastPing = s.created.UnixNano() - mrand.Int64N(int64(m.cfg.PingInterval))
	s.lastBeat = s.created.UnixNano() - mrand.Int64N(int64(m.cfg.PresenceTTL/3))
	return s
}

// ID returns the session id (s_...).
func (s *Session) ID() string { return s.id }

// User returns the session's user id.
func (s *Session) User() string { return s.user }

// Tenant returns the session's tenant id.
func (s *Session) Tenant() string { return s.tenant }

// Alive records a sign of life (a frame or a pong).
func (s *Session) Alive() { s.lastSeen.Store(time.Now().UnixNano()) }

// Start subscribes the session, sends welcome and announces the session. Frames that arrive
// meanwhile are held so welcome is always first; a console's first one after it is the latest
// queue overview, when the hub has one (hub.Overview), so it need not wait for the next.
func (s *Session) Start(ctx context.Context) error {
	m := s.m
	subs := []struct {
		kind hub.Kind
		subj string
	}{{hub.User, subjects.User(s.tenant, s.user)}, {hub.Session, subjects.Session(s.tenant, s.user)}}
	if s.role != frames.RoleCustomer {
		subs = append(subs, struct {
			kind hub.Kind
			subj string
		}{hub.Overview, subjects.Overview(s.tenant)})
	}
	subs = append(subs, s.workspaceSubs()...) // the board and roster (workspace.go)
	for _, sub := range subs {
		if err := m.hub.Subscribe(sub.kind, sub.subj, "", s); err != nil {
			return err
		}
		s.mu.Lock()
		s.userSubs = append(s.userSubs, sub.subj)
		s.mu.Unlock()
	}
	// Announced after subscribing, so a session that opens meanwhile elsewhere is heard by one
	// of the two at least; and before the reads below, so the subscriptions, the announcement
	// and the first read's request leave in one write of the NATS connection rather than two.
	s.announce(true)
	s.announced.Store(true)
	summaries, err := m.openConversations(ctx, s)
	if err != nil {
		return err
	}
	for _, cs := range summaries {
		if err := s.join(cs.GetConv()); err != nil {
			return err
		}
	}
	// last_seq is read after subscribing, so nothing falls between it and live delivery.
	for _, cs := range summaries {
		last, err := m.rec.LastSeq(ctx, s.tenant, cs.GetConv())
		if err != nil {
			return err
		}
		cs.LastSeq = &last
	}
	if summaries == nil {
		summaries = []*fd.ConversationSummary{}
	} else {
		m.unread(ctx, s, summaries)
	}
	var maxAudio int32
	var scale string
	if t, ok := m.Tenant(s.tenant); ok {
		maxAudio = t.GetAttachments().GetMaxAudioS() // the store applies the default
		scale = t.GetCsat().GetScale()
	}
	w := &fd.ServerFrame{Type: frames.TypeWelcome, Session: s.id, User: s.user, Role: s.role,
		Tenant: s.tenant, Conversations: summaries, MaxAudioS: maxAudio, CsatScale: scale}
	m.workspaceWelcome(s, w) // workspace.go
	welcome := s.encode(w)
	s.mu.Lock()
	s.queue = append([][]byte{welcome}, s.queue...)
	s.queued += len(welcome)
	s.started = true
	s.kick()
	s.mu.Unlock()
	m.metrics.FramesOut.WithLabelValues(frames.TypeWelcome).Inc()
	s.publishPresence(true)
	return nil
}

// Finish releases everything the session holds; the transport calls it once its connection
// ended.
func (s *Session) Finish() {
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	convs := make([]string, 0, len(s.convs))
	for c := range s.convs {
		convs = append(convs, c)
	}
	s.convs = map[string]*convState{}
	userSubs := s.userSubs
	s.userSubs = nil
	s.mu.Unlock()
	for _, c := range convs {
		s.unsubscribeConv(c)
	}
	for _, subj := range userSubs {
		s.m.hub.Unsubscribe(subj, s)
	}
	s.m.unregister(s)
	s.publishPresence(false)
	if s.announced.Load() {
		s.announce(false)
	}
}

// Close closes the connection with code once what is already queued is written (an error
// frame explaining a policy close, say); Finish follows when the connection ends.
func (s *Session) Close(code int, reason string) { s.closeWith(code, reason) }

// closeWith is Close, reporting whether this call is the one that closes the session.
func (s *Session) closeWith(code int, reason string) bool {
	s.mu.Lock()
	if s.closed || s.closeCode != 0 {
		s.mu.Unlock()
		return false
	}
	s.closeCode, s.closeReason = code, reason
	if s.writing || (s.started && len(s.queue) > 0) {
		s.mu.Unlock()
		return true // the writer closes when done
	}
	s.mu.Unlock()
	s.tr.Close(code, reason)
	return true
}

func (s *Session) abort(reason string) {
	s.m.log.Debug("aborting session", zap.String("session", s.id), zap.String("reason", reason))
	s.tr.Abort()
}

func (s *Session) ping(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.PingInterval)
	defer cancel()
	if err := s.tr.Ping(ctx); err == nil {
		s.Alive()
	}
}

func (s *Session) presence(online bool) *fd.SessionPresence {
	return &fd.SessionPresence{Tenant: s.tenant, User: s.user, Session: s.id, Role: s.role, Name: s.claims.Name,
		Gateway: s.m.cfg.GatewayID, Skills: s.claims.Skills, MaxChats: int32(s.claims.Capacity()), Online: online,
		TtlS: int32(s.m.cfg.PresenceTTL / time.Second), At: now(), Language: s.claims.Language,
		Priority: int32(s.claims.Priority)}
}

// publishPresence publishes the session's heartbeat (or goodbye) on the Presence subject, for
// agents only: the dispatcher, its one consumer, counts agents' sessions and drops every other
// role's, so a customer's or supervisor's heartbeats were two publishes per connection and one
// per session every ttl_s/3 that nobody read.
func (s *Session) publishPresence(online bool) {
	if s.role != frames.RoleAgent {
		return
	}
	if err := s.m.publishProto(context.Background(), subjects.Presence(s.tenant, s.user), s.presence(online)); err != nil {
		s.m.log.Debug("presence", zap.Error(err))
	}
}

// encode encodes a frame for this session's subprotocol.
func (s *Session) encode(f *fd.ServerFrame) []byte {
	if s.binary {
		b, _ := frames.AppendProto(nil, f)
		return b
	}
	return frames.AppendJSON(nil, f)
}

// send queues a frame made for this session only.
func (s *Session) send(f *fd.ServerFrame) {
	s.mu.Lock()
	s.enqueueLocked(s.encode(f), f.GetType())
	s.mu.Unlock()
}

// enqueueLocked queues an encoded frame; a full queue disconnects the client, which is too slow
// to read, rather than let it hold memory or anyone else back.
func (s *Session) enqueueLocked(b []byte, typ string) {
	if s.closed || s.closeCode != 0 {
		return
	}
	if len(s.queue) >= s.m.cfg.QueueFrames || s.queued+len(b) > s.m.cfg.QueueBytes {
		s.closed = true
		s.queue = nil
		s.m.metrics.Drops.WithLabelValues("slow_client").Inc()
		s.m.spawn(func(context.Context) { s.tr.Abort() }) // not under s.mu
		return
	}
	s.queue = append(s.queue, b)
	s.queued += len(b)
	s.m.metrics.FramesOut.WithLabelValues(typ).Inc()
	if s.started {
		s.kick()
	}
}

// kick starts the writer if it is not running. The writer lives only while there is something
// to write, so an idle connection costs no goroutine of its own.
func (s *Session) kick() {
	if s.writing || len(s.queue) == 0 {
		return
	}
	s.writing = true
	if !s.m.spawn(s.write) {
		// The manager stopped: nothing is written any more.
		s.writing = false
		s.closed = true
		s.queue = nil
	}
}

func (s *Session) write(bg context.Context) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.closed {
			s.writing = false
			code, reason := s.closeCode, s.closeReason
			closed := s.closed
			s.mu.Unlock()
			if code != 0 && !closed {
				s.tr.Close(code, reason)
			}
			return
		}
		// The batch stays counted in queued until it is written: the bound is on what the
		// connection holds, in flight or not, so a stuck write cannot let another QueueBytes in.
		batch, size := s.queue, s.queued
		s.queue = nil
		s.mu.Unlock()
		if err := s.writeBatch(bg, batch); err != nil {
			s.mu.Lock()
			s.writing = false
			s.closed = true
			s.mu.Unlock()
			s.tr.Abort()
			return
		}
		s.mu.Lock()
		s.queued -= size
		s.mu.Unlock()
	}
}

// writeBatch writes the frames queued since the last write: at once when the transport can.
func (s *Session) writeBatch(bg context.Context, batch [][]byte) error {
	if bw, ok := s.tr.(BatchWriter); ok {
		ctx, cancel := context.WithTimeout(bg, s.m.cfg.WriteTimeout)
		defer cancel()
		return bw.WriteBatch(ctx, batch)
	}
	for _, b := range batch {
		ctx, cancel := context.WithTimeout(bg, s.m.cfg.WriteTimeout)
		err := s.tr.Write(ctx, b)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// QueueLen returns the number of queued frames (tests, flow control).
func (s *Session) QueueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// waitQueue waits until the queue is at most half full, in frames and in bytes, for long
// replays.
func (s *Session) waitQueue(ctx context.Context) {
	for {
		s.mu.Lock()
		n, bytes, closed := len(s.queue), s.queued, s.closed
		s.mu.Unlock()
		if closed || (n < s.m.cfg.QueueFrames/2 && bytes < s.m.cfg.QueueBytes/2) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// RateLimited reports whether the last frame handled was refused by a rate limit: the answer to
// a POST without a session whose last frame was is held (the gateway's refusal_delay), so a
// flood of them waits on its answers.
func (s *Session) RateLimited() bool {
	s.handleMu.Lock()
	defer s.handleMu.Unlock()
	return s.abuse > 0
}

// Drain waits until everything queued was written.
func (s *Session) Drain() {
	for {
		s.mu.Lock()
		done := len(s.queue) == 0 && !s.writing
		s.mu.Unlock()
		if done {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}
