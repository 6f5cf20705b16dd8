// Package engine runs the dispatcher on NATS: it owns tenant partitions through KV leases,
// consumes each owned tenant's commands from FD_COMMANDS, tracks agents from presence
// heartbeats, and turns pure decisions (package assign's matches, and the transitions of
// transitions.go: what each command does to a conversation) into KV updates, lifecycle
// events and user frames (apply.go). State lives in memory for speed and in JetStream for
// failover: fd_conversations (the truth of each conversation), fd_dispatcher (queue order,
// agent status, command cursor per tenant) and FD_EVENTS (checked at takeover so no decision
// goes unannounced).
package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/lease"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Settings tune the engine. Zero values take the defaults of DefaultSettings; tenant
// settings (grace period, offer timeout) override the engine-wide ones where they exist.
type Settings struct {
	// Instance identifies this replica among replicas (lease owner id).
	Instance string `mapstructure:"instance"`
	// Partitions is how many partitions tenants are hashed into. Every replica must agree.
	Partitions int `mapstructure:"partitions"`
	// LeaseTTL is how long a partition lease lasts without renewal: the failover time.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// Tick is how often timers (session expiry, grace, offers, max wait) are checked.
	Tick time.Duration `mapstructure:"tick"`
	// Coalesce is the shortest interval between two position updates to one customer, and
	// between two overview frames of a tenant.
	Coalesce time.Duration `mapstructure:"coalesce"`
	// Grace is how long an agent may have no session before their conversations are
	// re-queued, when the tenant does not say (agent_offline_grace_s).
	Grace time.Duration `mapstructure:"grace"`
	// PresenceTTL is a session's lifetime when a heartbeat carries no ttl_s.
	PresenceTTL time.Duration `mapstructure:"presence_ttl"`
	// OfferTimeout is how long an offer stands when the tenant does not say.
	OfferTimeout time.Duration `mapstructure:"offer_timeout"`
	// MaxMissedOffers marks an agent away after this many missed offers when the tenant does
	// not say.
	MaxMissedOffers int `mapstructure:"max_missed_offers"`
	// HookTimeout bounds a routing hook request when the tenant does not say.
	HookTimeout time.Duration `mapstructure:"hook_timeout"`
	// StarveAfter serves a waiting conversation ahead of higher priorities once it waited
	// this long.
	StarveAfter time.Duration `mapstructure:"starve_after"`
	// HandlePrior is the handling time assumed before any conversation was handled (ETA).
	HandlePrior time.Duration `mapstructure:"handle_prior"`
}

// DefaultSettings are the production defaults.
func DefaultSettings() Settings {
	return Settings{
		Partitions:      16,
		LeaseTTL:        3 * time.Second,
		Tick:            100 * time.Millisecond,
		Coalesce:        time.Second,
		Grace:           30 * time.Second,
		PresenceTTL:     30 * time.Second,
		OfferTimeout:    20 * time.Second,
		MaxMissedOffers: 3,
		HookTimeout:     200 * time.Millisecond,
		StarveAfter:     5 * time.Minute,
		HandlePrior:     5 * time.Minute,
	}
}

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	if s.Partitions <= 0 {
		s.Partitions = d.Partitions
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = d.LeaseTTL
	}
	if s.Tick <= 0 {
		s.Tick = d.Tick
	}
	if s.Coalesce <= 0 {
		s.Coalesce = d.Coalesce
	}
	if s.Grace <= 0 {
		s.Grace = d.Grace
	}
	if s.PresenceTTL <= 0 {
		s.PresenceTTL = d.PresenceTTL
	}
	if s.OfferTimeout <= 0 {
		s.OfferTimeout = d.OfferTimeout
	}
	if s.MaxMissedOffers <= 0 {
		s.MaxMissedOffers = d.MaxMissedOffers
	}
	if s.HookTimeout <= 0 {
		s.HookTimeout = d.HookTimeout
	}
	if s.HandlePrior <= 0 {
		s.HandlePrior = d.HandlePrior
	}
	return s
}

// Tenants is the live tenant settings source.
type Tenants interface {
	// Get returns a tenant's settings; false for a tenant that is not configured (refused).
	Get(id string) (*fd.Tenant, bool)
	// IDs returns every configured tenant.
	IDs() []string
}

// Engine is one dispatcher replica.
type Engine struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	conv    jetstream.KeyValue
	part    jetstream.KeyValue
	open    jetstream.KeyValue
	disp    jetstream.KeyValue
	events  jetstream.Stream
	tenants Tenants
	set     Settings
	log     *zap.Logger
	m       *metrics
	leases  *lease.Manager
	pres    *presenceCache
	started time.Time
	tracer  tracing.Tracer

	mu sync.Mutex
	// actorsCtx is the parent of the actors' contexts, cancelled when Run ends.
	actorsCtx context.Context
	actors    map[string]*actor
	parts     map[int]bool
	stopping  bool
	// wg counts every goroutine Run owns: actors, their stops, the tenants watch.
	wg sync.WaitGroup
}

type actor struct {
	t      *tenant
	cancel context.CancelFunc
	done   chan struct{}
}

// New binds an engine to its NATS connection; the streams and buckets must exist.
func New(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, tenants Tenants, set Settings, log *zap.Logger, reg prometheus.Registerer, opts ...Option) (*Engine, error) {
	set = set.withDefaults()
	if set.Instance == "" {
		set.Instance = nats.NewInbox()[len(nats.InboxPrefix):]
	}
	e := &Engine{nc: nc, js: js, tenants: tenants, set: set, log: log, actors: map[string]*actor{},
		parts: map[int]bool{}, pres: newPresenceCache(), started: time.Now()}
	for _, o := range opts {
		o(e)
	}
	var err error
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{subjects.BucketConversations, &e.conv}, {subjects.BucketParticipants, &e.part},
		{subjects.BucketOpen, &e.open}, {subjects.BucketDispatcher, &e.disp}} {
		if *b.kv, err = js.KeyValue(ctx, b.name); err != nil {
			return nil, fmt.Errorf("bind kv %s: %w", b.name, err)
		}
	}
	if e.events, err = js.Stream(ctx, subjects.StreamEvents); err != nil {
		return nil, fmt.Errorf("bind stream %s: %w", subjects.StreamEvents, err)
	}
	if e.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	e.leases = lease.New(e.disp, lease.Options{ID: set.Instance, Partitions: set.Partitions, TTL: set.LeaseTTL},
		lease.Callbacks{Acquired: e.acquired, Lost: e.lost}, log.Named("lease"))
	return e, nil
}

// Partition is the partition of a tenant. A tenant's agents are shared by its queues, so a
// tenant is never split: one owner sees all of its agents and waiting customers.
func Partition(tenant string, partitions int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	return int(h.Sum32() % uint32(partitions))
}

// Run dispatches until ctx ends. On a graceful stop it flushes every tenant's state and
// releases its leases so another replica takes over at once. Every goroutine it starts (the
// tenant actors, the tenants watch) has ended when it returns.
func (e *Engine) Run(ctx context.Context) error {
	sub, err := e.nc.Subscribe(subjects.AllPresence(), e.onPresence)
	if err != nil {
		return fmt.Errorf("subscribe presence: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// Actors outlive ctx on purpose: the lease manager stops each one while its lease still
	// holds (so it saves its state) and only then gives the lease up. Their context is
	// cancelled, and every actor waited for, once the leases are done.
	actors, stopActors := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	e.actorsCtx = actors
	e.mu.Unlock()
	// Tenants added later start on the replica owning their partition.
	e.wg.Go(func() {
		t := time.NewTicker(e.set.LeaseTTL / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.syncTenants()
			}
		}
	})
	err = e.leases.Run(ctx, true)
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	stopActors()
	e.wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Owned returns the partitions this replica owns (for tests and the ops page).
func (e *Engine) Owned() []int { return e.leases.Owned() }

// Instance is the replica id.
func (e *Engine) Instance() string { return e.set.Instance }

func (e *Engine) acquired(p int) {
	e.mu.Lock()
	e.parts[p] = true
	e.m.partitions.Set(float64(len(e.parts)))
	e.mu.Unlock()
	e.syncTenants()
}

func (e *Engine) lost(p int) {
	e.mu.Lock()
	delete(e.parts, p)
	e.m.partitions.Set(float64(len(e.parts)))
	var stop []*actor
	for id, a := range e.actors {
		if a.t.part == p {
			stop = append(stop, a)
			delete(e.actors, id)
		}
	}
	e.m.tenants.Set(float64(len(e.actors)))
	e.mu.Unlock()
	for _, a := range stop {
		a.cancel()
		<-a.done
	}
}

// syncTenants starts an actor for every configured tenant of an owned partition and stops
// those of tenants no longer configured.
func (e *Engine) syncTenants() {
	ids := e.tenants.IDs()
	want := map[string]bool{}
	e.pres.prune(time.Now())
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return
	}
	for _, id := range ids {
		p := Partition(id, e.set.Partitions)
		if !e.parts[p] {
			continue
		}
		want[id] = true
		if a := e.actors[id]; a != nil {
			select {
			case <-a.done:
				// It stopped on its own (its lease looked expired, then was renewed): start
				// it again, rebuilding from JetStream.
				a.cancel()
			default:
				continue
			}
		}
		ctx, cancel := context.WithCancel(e.actorsCtx)
		t := newTenant(e, id, p)
		a := &actor{t: t, cancel: cancel, done: make(chan struct{})}
		e.actors[id] = a
		e.wg.Go(func() {
			defer close(a.done)
			t.run(ctx)
		})
	}
	for id, a := range e.actors {
		if !want[id] {
			delete(e.actors, id)
			// Stopped aside: the lock is held, and the actor may be waiting for it.
			e.wg.Go(func() { a.cancel(); <-a.done })
		}
	}
	e.m.tenants.Set(float64(len(e.actors)))
}

func (e *Engine) onPresence(msg *nats.Msg) {
	var p fd.SessionPresence
	if err := proto.Unmarshal(msg.Data, &p); err != nil {
		return
	}
	parsed, err := subjects.Parse(msg.Subject)
	if err != nil || parsed.Tenant == "" || p.GetSession() == "" {
		return
	}
	// The subject is authoritative (NATS permissions bind it to the publisher).
	p.Tenant, p.User = parsed.Tenant, parsed.User
	if p.GetRole() != frames.RoleAgent {
		return
	}
	ttl := time.Duration(p.GetTtlS()) * time.Second
	if ttl <= 0 {
		ttl = e.set.PresenceTTL
	}
	now := time.Now()
	e.pres.put(&p, now.Add(ttl))
	e.mu.Lock()
	a := e.actors[p.Tenant]
	e.mu.Unlock()
	if a != nil {
		a.t.presence(presenceIn{p: &p, ttl: ttl, at: now})
	}
}

// presenceCache keeps every replica's view of live agent sessions, so a replica taking over a
// partition knows who is online without waiting for the next heartbeats.
type presenceCache struct {
	mu sync.Mutex
	m  map[string]map[string]cached // tenant -> session -> heartbeat
}

type cached struct {
	p   *fd.SessionPresence
	exp time.Time
}

func newPresenceCache() *presenceCache {
	return &presenceCache{m: map[string]map[string]cached{}}
}

func (c *presenceCache) put(p *fd.SessionPresence, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.m[p.Tenant]
	if s == nil {
		s = map[string]cached{}
		c.m[p.Tenant] = s
	}
	if !p.GetOnline() {
		delete(s, p.GetSession())
		return
	}
	s[p.GetSession()] = cached{p: p, exp: exp}
}

// prune drops sessions whose heartbeats stopped (gateways that died).
func (c *presenceCache) prune(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tenant, s := range c.m {
		for id, x := range s {
			if !now.Before(x.exp) {
				delete(s, id)
			}
		}
		if len(s) == 0 {
			delete(c.m, tenant)
		}
	}
}

func (c *presenceCache) live(tenant string, now time.Time) []cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cached
	for id, s := range c.m[tenant] {
		if !now.Before(s.exp) {
			delete(c.m[tenant], id)
			continue
		}
		out = append(out, s)
	}
	return out
}
