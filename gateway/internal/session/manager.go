// Package session is the gateway's protocol engine: one Session per client connection, whatever
// the transport (WebSocket or SSE), and the Manager that registers sessions, shares NATS
// subscriptions between them (through the hub) and runs one janitor for heartbeats, token
// expiry and dead connections instead of timers per connection.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/record"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Tenants looks up live tenant settings. Unknown tenants are refused.
type Tenants interface {
	Get(id string) (*fd.Tenant, bool)
}

// Config tunes sessions. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// GatewayID names this gateway instance in presence heartbeats.
	GatewayID string
	// QueueFrames bounds a connection's outbound queue in frames; a client that lets it fill
	// is disconnected.
	QueueFrames int
	// QueueBytes bounds a connection's outbound queue in bytes; at least 1 MiB, four of the
	// costliest reply frames.
	QueueBytes int
	// MaxReplyBytes bounds one reply frame (a history page) in the session's encoding: a page
	// is cut short, with more set, to fit. It is at most a quarter of QueueBytes, so a reply
	// never overflows the queue by itself, and at least 256 KiB, which the costliest single
	// message (MaxTextBytes of characters JSON escapes to six bytes) fits in.
	MaxReplyBytes int
	// ReplyBytesPerSecond is each user's budget for replies (sync replays and history pages),
	// in encoded bytes, after a burst of four MaxReplyBytes: a user pulling a big conversation
	// again and again, within the frame limits, gets it at this pace instead of taking the
	// gateway's bandwidth and CPU from everyone else. A replay that would outlast its frame's
	// deadline stops early (synced with recovered false: sync again from last_seq).
	ReplyBytesPerSecond int
	// PingInterval is how often the server pings an idle connection.
	PingInterval time.Duration
	// DeadTimeout closes a connection that showed no sign of life for this long.
	DeadTimeout time.Duration
	// PresenceTTL is the ttl_s of presence heartbeats; they are sent every third of it.
	PresenceTTL time.Duration
	// WriteTimeout bounds one write to a socket.
	WriteTimeout time.Duration
	// RequestTimeout bounds NATS requests (persister, aibridge) and JetStream publishes.
	RequestTimeout time.Duration
	// Tracer starts a span per client frame and puts its context on what the frame publishes;
	// the zero Tracer (tracing off) costs nothing.
	Tracer tracing.Tracer
	// MaxLimiters bounds the rate-limit buckets remembered beyond connections (users, tokens
	// and addresses of detached requests); past it an arbitrary idle one is forgotten.
	MaxLimiters int
	// AbuseLimit is the number of consecutive rate-limited frames before close 1008.
	AbuseLimit int
	// JanitorEvery is the janitor's tick; each tick visits one of janitorSlots slices of the
	// sessions, so every session is looked at every janitorSlots ticks and the pings and
	// heartbeats of many sessions are spread instead of sent in bursts that delay messages.
	JanitorEvery time.Duration
	// MaxPublishes bounds the JetStream publishes (messages, commands, events) this gateway
	// has in flight. A frame that finds them all taken waits at most PublishWait for one, then
	// is refused with `overloaded`: when the store falls behind, the gateway sheds the excess
	// at once instead of acking it seconds late or holding it in memory. Sized so a full
	// window drains well within a second at what one JetStream server stores.
	MaxPublishes int
	// PublishWait is how long a frame may wait for a publish slot before it is refused.
	PublishWait time.Duration
	// ShedLatency and ShedPublishLatency are the p99s of the Go scheduler's latency and of the
	// JetStream publishes' over a janitor tick above which a busy gateway (ShedMinSends or more
	// messages offered a tick) cuts the rate at which it admits new messages; the rest are
	// refused with `overloaded` (shed.go). A ShedLatency of 0 turns admission off, a
	// ShedPublishLatency of 0 ignores the publishes.
	ShedLatency        time.Duration
	ShedPublishLatency time.Duration
	// ShedMinSends is the messages offered in a janitor tick under which nothing is refused.
	ShedMinSends int
	// ContactSeenEvery is how often the same customer connecting with the same token details
	// from the same page is recorded on their contact (seen.go); 0: DefaultContactSeenEvery,
	// negative: every connection.
	ContactSeenEvery time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		QueueFrames:         512,
		QueueBytes:          1 << 20,
		MaxReplyBytes:       256 << 10,
		ReplyBytesPerSecond: 4 << 20,
		PingInterval:        10 * time.Second,
		DeadTimeout:         30 * time.Second,
		PresenceTTL:         30 * time.Second,
		WriteTimeout:        10 * time.Second,
		RequestTimeout:      5 * time.Second,
		AbuseLimit:          10,
		MaxLimiters:         1 << 17,
		JanitorEvery:        100 * time.Millisecond,
		ShedLatency:         DefaultShedLatency,
		ShedPublishLatency:  DefaultShedPublishLatency,
		ShedMinSends:        DefaultShedMinSends,
		MaxPublishes:        1024,
		PublishWait:         100 * time.Millisecond,
	}
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.QueueFrames <= 0 {
		c.QueueFrames = d.QueueFrames
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = d.QueueBytes
	}
	if c.MaxReplyBytes <= 0 {
		c.MaxReplyBytes = d.MaxReplyBytes
	}
	c.MaxReplyBytes = max(min(c.MaxReplyBytes, c.QueueBytes/4), minReplyBytes)
	if c.ReplyBytesPerSecond <= 0 {
		c.ReplyBytesPerSecond = d.ReplyBytesPerSecond
	}
	if c.QueueBytes < 4*minReplyBytes {
		c.QueueBytes = 4 * minReplyBytes
	}
	if c.PingInterval <= 0 {
		c.PingInterval = d.PingInterval
	}
	if c.DeadTimeout <= 0 {
		c.DeadTimeout = d.DeadTimeout
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = d.PresenceTTL
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.AbuseLimit <= 0 {
		c.AbuseLimit = d.AbuseLimit
	}
	if c.MaxLimiters <= 0 {
		c.MaxLimiters = d.MaxLimiters
	}
	if c.JanitorEvery <= 0 {
		c.JanitorEvery = d.JanitorEvery
	}
	if c.MaxPublishes <= 0 {
		c.MaxPublishes = d.MaxPublishes
	}
	if c.PublishWait <= 0 {
		c.PublishWait = d.PublishWait
	}
	if c.GatewayID == "" {
		c.GatewayID = "gw_" + rand.Text()[:10]
	}
}

// minReplyBytes is the least MaxReplyBytes (and a quarter of the least QueueBytes): the
// costliest single message frame fits in it.
const minReplyBytes = 256 << 10

// Limits are a tenant's limits with defaults applied.
type Limits struct {
	MaxFrameBytes   int
	PerSecond       float64
	Burst           int
	UserPerSecond   float64
	MaxConnsPerUser int
}

// TenantLimits applies the documented defaults (tenants.Defaults) to a tenant's limits. Tenants
// from the store have them applied already, so the copy is made only for one that lacks some.
func TenantLimits(t *fd.Tenant) Limits {
	l := t.GetLimits()
	if l.GetMaxFrameBytes() <= 0 || l.GetMessagesPerSecond() <= 0 || l.GetBurst() <= 0 || l.GetUserMessagesPerSecond() <= 0 ||
		l.GetMaxConnectionsPerUser() <= 0 {
		// A negative setting counts as unset, like a zero one.
		l = tenants.Defaults(&fd.Tenant{Limits: &fd.Limits{MaxFrameBytes: max(l.GetMaxFrameBytes(), 0),
			MessagesPerSecond: max(l.GetMessagesPerSecond(), 0), Burst: max(l.GetBurst(), 0),
			UserMessagesPerSecond: max(l.GetUserMessagesPerSecond(), 0),
			MaxConnectionsPerUser: max(l.GetMaxConnectionsPerUser(), 0)}}).GetLimits()
	}
	return Limits{
		MaxFrameBytes:   int(l.GetMaxFrameBytes()),
		PerSecond:       l.GetMessagesPerSecond(),
		Burst:           int(l.GetBurst()),
		UserPerSecond:   l.GetUserMessagesPerSecond(),
		MaxConnsPerUser: int(l.GetMaxConnectionsPerUser()),
	}
}

// Manager registers sessions and holds what they share.
type Manager struct {
	cfg     Config
	log     *zap.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	hub     *hub.Hub
	tenants Tenants
	metrics *metrics.Metrics

	// rec is where the shared state lives: buckets, the messages stream's bounds, attachments
	// and the persister's queries.
	rec *record.Record

	draining atomic.Bool

	// limiters holds the buckets that outlive a connection: per user, and per token and
	// client address for detached requests (limiters.go).
	limiters *limiterSet
	// seen lets through the contact sightings worth recording (seen.go).
	seen *seenThrottle

	reconnects  uint64       // janitor only: NATS reconnects seen
	reconnected atomic.Int64 // unix nanos of the last NATS reconnect (peers.go)

	// bg is the context of the manager's own goroutines (spawn): writers, pings, joins and
	// leaves that need a round trip. Shutdown cancels it and waits for wg.
	bg      context.Context
	stopBg  context.CancelFunc
	wg      sync.WaitGroup
	spawnMu sync.Mutex // orders spawn against Shutdown

	mu       sync.Mutex
	sessions map[string]*Session
	users    map[string]*userState // tenant/user
	idle     chan struct{}         // closed when sessions becomes empty while draining

	publishes *publishWindow // JetStream publishes in flight (shed.go)
	shed      *admission     // new messages admitted at the rate the process carries (shed.go)
}

type userState struct {
	sessions []*Session
}

// New creates a Manager over the record of nc (record.Open). The streams and buckets of the
// contract must exist.
func New(ctx context.Context, cfg Config, log *zap.Logger, nc *nats.Conn, h *hub.Hub, tenants Tenants, m *metrics.Metrics) (*Manager, error) {
	cfg.fill()
	rec, err := record.Open(ctx, nc, cfg.RequestTimeout)
	if err != nil {
		return nil, err
	}
	return NewManager(cfg, log, nc, rec, h, tenants, m), nil
}

// NewManager creates a Manager that reads and writes shared state through rec and publishes on
// nc.
func NewManager(cfg Config, log *zap.Logger, nc *nats.Conn, rec *record.Record, h *hub.Hub, tenants Tenants, m *metrics.Metrics) *Manager {
	cfg.fill()
	mg := &Manager{cfg: cfg, log: log, nc: nc, js: rec.JetStream(), rec: rec, hub: h, tenants: tenants, metrics: m,
		sessions: map[string]*Session{}, users: map[string]*userState{},
		limiters: newLimiterSet(cfg.MaxLimiters, time.Minute), publishes: newPublishWindow(cfg.MaxPublishes, cfg.PublishWait),
		shed: newAdmission(cfg.ShedLatency, cfg.ShedPublishLatency, cfg.ShedMinSends),
		seen: newSeenThrottle(cfg.ContactSeenEvery, maxSeen)}
	mg.bg, mg.stopBg = context.WithCancel(context.Background())
	return mg
}

// spawn runs fn on a goroutine the manager owns: fn's ctx ends when Shutdown stops the
// manager's goroutines, and Shutdown waits for fn to return. It reports false, running
// nothing, once they were stopped.
func (m *Manager) spawn(fn func(ctx context.Context)) bool {
	m.spawnMu.Lock()
	defer m.spawnMu.Unlock()
	if m.bg.Err() != nil {
		return false
	}
	m.wg.Go(func() { fn(m.bg) })
	return true
}

// stopGoroutines cancels the manager's goroutines and waits for them; each is bounded by a
// timeout of the configuration, so the wait is too.
func (m *Manager) stopGoroutines() {
	m.spawnMu.Lock()
	m.stopBg() // under spawnMu: no goroutine is added to wg once Wait may have begun
	m.spawnMu.Unlock()
	m.wg.Wait()
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// Tenant returns a tenant's settings.
func (m *Manager) Tenant(id string) (*fd.Tenant, bool) { return m.tenants.Get(id) }

// Record returns where the manager reads and writes shared state.
func (m *Manager) Record() *record.Record { return m.rec }

// ErrTooManyConnections is returned by Open when the user has max_connections_per_user sessions
// on this gateway. Across gateways the limit is kept by closing the oldest sessions (peers.go).
var ErrTooManyConnections = errors.New("too many connections for this user")

// ErrDraining is returned by Open while the gateway shuts down.
var ErrDraining = errors.New("gateway is shutting down")

// Sessions returns the number of open sessions.
func (m *Manager) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Lookup returns an open session by id.
func (m *Manager) Lookup(id string) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	return s, ok
}

func userKey(tenant, user string) string { return tenant + "/" + user }

// Open registers a session for an authenticated user on transport tr and returns it; Start
// must follow. It refuses users over their connection limit and everything while draining.
func (m *Manager) Open(c *token.Claims, t *fd.Tenant, tr Transport) (*Session, error) {
	if m.draining.Load() {
		return nil, ErrDraining
	}
	lim := TenantLimits(t)
	s := newSession(m, c, t, lim, tr)
	k := userKey(c.Tenant, c.Subject)
	m.mu.Lock()
	u := m.users[k]
	if u == nil {
		u = &userState{}
		m.users[k] = u
	}
	if len(u.sessions) >= lim.MaxConnsPerUser {
		if len(u.sessions) == 0 {
			delete(m.users, k)
		}
		m.mu.Unlock()
		return nil, ErrTooManyConnections
	}
	u.sessions = append(u.sessions, s)
	m.sessions[s.id] = s
	m.mu.Unlock()
	m.metrics.Connections.WithLabelValues(c.Role, tr.Name()).Inc()
	return s, nil
}

// UserSessions returns the number of sessions the user has on this gateway.
func (m *Manager) UserSessions(tenant, user string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.users[userKey(tenant, user)]; u != nil {
		return len(u.sessions)
	}
	return 0
}

func (m *Manager) unregister(s *Session) {
	k := userKey(s.tenant, s.user)
	m.mu.Lock()
	if _, ok := m.sessions[s.id]; !ok {
		m.mu.Unlock()
		return
	}
	delete(m.sessions, s.id)
	if u := m.users[k]; u != nil {
		for i, x := range u.sessions {
			if x == s {
				u.sessions = append(u.sessions[:i], u.sessions[i+1:]...)
				break
			}
		}
		if len(u.sessions) == 0 {
			delete(m.users, k)
		}
	}
	if len(m.sessions) == 0 && m.idle != nil {
		close(m.idle)
		m.idle = nil
	}
	m.mu.Unlock()
	m.metrics.Connections.WithLabelValues(s.role, s.tr.Name()).Dec()
}

func (m *Manager) snapshot() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Run runs the janitor until ctx is done: pings, dead-connection detection, token expiry and
// presence heartbeats for every agent's session, from one goroutine.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.JanitorEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			m.metrics.Shed.Set(m.shed.observe(now))
			m.tick(now, n%janitorSlots)
		}
	}
}

// janitorSlots is the number of slices the janitor visits in turn.
const janitorSlots = 10

func (m *Manager) slot(slot int) []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Session
	for _, s := range m.sessions {
		if s.slot == slot {
			out = append(out, s)
		}
	}
	return out
}

func (m *Manager) tick(now time.Time, slot int) {
	nowNs := now.UnixNano()
	beat := int64(m.cfg.PresenceTTL / 3)
	if r := m.nc.Stats().Reconnects; r != m.reconnects {
		// Announcements were lost while cut off: every session repeats its own for a while,
		// so the sessions of its user elsewhere hear of it and answer with theirs.
		m.reconnects = r
		m.reconnected.Store(nowNs)
	}
	for _, s := range m.slot(slot) {
		switch {
		case !s.exp.IsZero() && now.After(s.exp):
			s.Close(frames.CloseTokenExpired, "token expired")
			continue
		case nowNs-s.lastSeen.Load() > int64(m.cfg.DeadTimeout):
			s.abort("dead connection")
			continue
		}
		if nowNs-s.lastPing >= int64(m.cfg.PingInterval) {
			s.lastPing = nowNs
			m.spawn(s.ping)
		}
		if nowNs-s.lastBeat >= beat {
			s.lastBeat = nowNs
			s.publishPresence(true)
			if s.announced.Load() && s.hearsCompany(nowNs) {
				s.announce(true)
			}
		}
	}
}

// Shutdown closes every session with 1012 (clients reconnect elsewhere and sync) and waits for
// them to end or ctx to expire, then stops the manager's goroutines and waits for them. New
// sessions are refused from the first call.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.draining.Store(true)
	err := m.closeSessions(ctx)
	m.stopGoroutines()
	return err
}

func (m *Manager) closeSessions(ctx context.Context) error {
	m.mu.Lock()
	var idle chan struct{}
	if len(m.sessions) > 0 {
		idle = make(chan struct{})
		m.idle = idle
	}
	m.mu.Unlock()
	if idle == nil {
		return nil
	}
	for _, s := range m.snapshot() {
		s.Close(frames.CloseRestarting, "gateway restarting")
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		for _, s := range m.snapshot() {
			s.abort("shutdown deadline")
		}
		return fmt.Errorf("sessions still open at shutdown deadline: %w", ctx.Err())
	}
}

// Draining reports whether Shutdown started.
func (m *Manager) Draining() bool { return m.draining.Load() }

// publishProto publishes msg on core NATS, with the trace context of ctx in its headers when
// ctx carries one (tracing on).
func (m *Manager) publishProto(ctx context.Context, subject string, msg proto.Message) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal for %s: %w", subject, err)
	}
	if h := tracing.InjectHeader(ctx, nil); h != nil {
		return m.nc.PublishMsg(&nats.Msg{Subject: subject, Data: b, Header: h})
	}
	return m.nc.Publish(subject, b)
}

func (m *Manager) jsPublish(ctx context.Context, subject, msgID string, msg proto.Message) (*jetstream.PubAck, error) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("marshal for %s: %w", subject, err)
	}
	t0 := time.Now()
	// Every outcome is a latency to the controller: a publish refused for want of a slot or
	// timed out is the store falling behind as much as a slow ack is.
	defer func() { m.shed.observePublish(time.Since(t0)) }()
	if err := m.publishes.acquire(ctx); err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	defer m.publishes.release()
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	ack, err := publishMsg(ctx, m.nc, &nats.Msg{Subject: subject, Data: b,
		Header: tracing.InjectHeader(ctx, nats.Header{jetstream.MsgIDHeader: []string{msgID}})})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack, nil
}

func now() *timestamppb.Timestamp { return timestamppb.Now() }

// Detached returns a session that is not registered and subscribes to nothing: it answers the
// frames given to Handle (an SSE POST that reached a gateway not holding the stream). Call Drain
// after Handle, then Finish is not needed. Its frames are limited by the user's bucket, shared
// with the user's sessions, by its token's (the connection limit a detached request would
// otherwise escape) and by the client address's, addr (the empty string for none).
func (m *Manager) Detached(c *token.Claims, t *fd.Tenant, tr Transport, addr string) *Session {
	lim := TenantLimits(t)
	s := newSession(m, c, t, lim, tr)
	s.limiter = nil
	s.started = true
	s.detached = true
	s.addr = addr
	return s
}

// TenantChanged applies a tenant change to open sessions (tenants.Store.OnChange): new limits
// (single_session and max_connections_per_user included) apply at once, and a deleted tenant's
// sessions are closed with 1008, since an unknown tenant is refused. It does not block.
func (m *Manager) TenantChanged(id string, t *fd.Tenant) {
	for _, s := range m.snapshot() {
		if s.tenant != id {
			continue
		}
		if t == nil {
			s.Close(frames.ClosePolicyViolation, "tenant removed")
			continue
		}
		lim := TenantLimits(t)
		s.limiter.SetLimit(rate.Limit(lim.PerSecond))
		s.limiter.SetBurst(lim.Burst)
		s.setPeerLimit(lim.MaxConnsPerUser, t.GetSingleSession())
	}
}
