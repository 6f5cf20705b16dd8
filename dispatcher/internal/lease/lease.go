// Package lease gives each dispatcher partition exactly one active owner among the running
// replicas, using compare-and-set on a JetStream KV bucket (Create and Update with the last
// revision) rather than a consensus of our own: the bucket's stream is the consensus.
//
// A lease is the key lease.<partition> holding the owner's id. The owner renews it with
// Update(revision) every TTL/4. A contender that has watched the key stay unchanged for TTL
// (measured by its own clock from the moment it saw the revision) takes it with
// Update(key, me, that revision); at most one contender wins. The owner considers its lease
// valid until TTL - TTL/4 after it sent its last successful renewal, which is before any
// contender's TTL after seeing that renewal, so two owners never act at once (clock rates
// being equal). A graceful owner deletes its keys so others take over at once.
//
// Partitions are spread evenly: each replica heartbeats member.<id>, and holds at most
// ceil(partitions / live members), releasing extras when replicas join.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Callbacks are called from the manager's goroutine; Lost must return only once the
// partition's work stopped, since the lease may be handed over right after.
type Callbacks struct {
	// Acquired is called when the replica became the partition's owner.
	Acquired func(p int)
	// Lost is called when the replica stops owning the partition.
	Lost func(p int)
}

// Options configure a Manager.
type Options struct {
	// ID identifies this replica (unique among replicas).
	ID string
	// Partitions is the number of partitions.
	Partitions int
	// TTL is how long a lease lasts without renewal.
	TTL time.Duration
}

type held struct {
	rev   uint64
	valid time.Time // monotonic
}

type seen struct {
	rev   uint64
	owner string
	at    time.Time // when this revision was first seen locally
	gone  bool      // deleted or never created
}

// Manager holds this replica's leases.
type Manager struct {
	kv  jetstream.KeyValue
	opt Options
	cb  Callbacks
	log *zap.Logger

	mu      sync.Mutex
	owned   map[int]*held
	leases  map[int]seen
	members map[string]seen
}

// New returns a manager; Run starts it.
func New(kv jetstream.KeyValue, opt Options, cb Callbacks, log *zap.Logger) *Manager {
	return &Manager{kv: kv, opt: opt, cb: cb, log: log, owned: map[int]*held{},
		leases: map[int]seen{}, members: map[string]seen{}}
}

type value struct {
	Owner string `json:"owner"`
}

func leaseKey(p int) string      { return "lease." + strconv.Itoa(p) }
func memberKey(id string) string { return "member." + id }

// Valid reports whether this replica owns p right now and may act on it.
func (m *Manager) Valid(p int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.owned[p]
	return h != nil && time.Now().Before(h.valid)
}

// Owned returns the partitions held.
func (m *Manager) Owned() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, 0, len(m.owned))
	for p := range m.owned {
		out = append(out, p)
	}
	return out
}

// Run keeps leases until ctx ends, then releases them (when release is true and the
// connection still works). It returns ctx's error or a watch setup error.
func (m *Manager) Run(ctx context.Context, release bool) error {
	w, err := m.kv.WatchFiltered(ctx, []string{"lease.*", "member.*"})
	if err != nil {
		return fmt.Errorf("watch leases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// Take in what exists before deciding anything.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		m.observe(e)
	}
	tick := time.NewTicker(m.opt.TTL / 4)
	defer tick.Stop()
	m.step(ctx)
	for {
		select {
		case <-ctx.Done():
			m.stopAll(release)
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				m.stopAll(false)
				return errors.New("lease watch closed")
			}
			if e != nil {
				m.observe(e)
			}
		case <-tick.C:
			m.step(ctx)
		}
	}
}

func (m *Manager) observe(e jetstream.KeyValueEntry) {
	now := time.Now()
	s := seen{rev: e.Revision(), at: now, gone: e.Operation() != jetstream.KeyValuePut}
	if !s.gone {
		var v value
		_ = json.Unmarshal(e.Value(), &v)
		s.owner = v.Owner
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch k := e.Key(); {
	case strings.HasPrefix(k, "lease."):
		p, err := strconv.Atoi(strings.TrimPrefix(k, "lease."))
		if err != nil {
			return
		}
		m.leases[p] = s
	case strings.HasPrefix(k, "member."):
		m.members[strings.TrimPrefix(k, "member.")] = s
	}
}

// fairShare is ceil(partitions / live members); a member is live if its heartbeat changed
// within TTL.
func (m *Manager) fairShare(now time.Time) int {
	live := 0
	for id, s := range m.members {
		if id == m.opt.ID || (!s.gone && now.Sub(s.at) < m.opt.TTL) {
			live++
		}
	}
	if live == 0 {
		live = 1
	}
	return (m.opt.Partitions + live - 1) / live
}

func (m *Manager) step(ctx context.Context) {
	opctx, cancel := context.WithTimeout(ctx, m.opt.TTL/2)
	defer cancel()
	me, _ := json.Marshal(value{Owner: m.opt.ID})
	if _, err := m.kv.Put(opctx, memberKey(m.opt.ID), me); err != nil {
		m.log.Debug("member heartbeat", zap.Error(err))
	}
	// Renew what we hold; a lost or expired lease stops its work first.
	for _, p := range m.Owned() {
		m.mu.Lock()
		h := m.owned[p]
		m.mu.Unlock()
		sent := time.Now()
		rev, err := m.kv.Update(opctx, leaseKey(p), me, h.rev)
		switch {
		case err == nil:
			m.mu.Lock()
			h.rev, h.valid = rev, sent.Add(m.opt.TTL-m.opt.TTL/4)
			m.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound),
			errors.Is(err, jetstream.ErrKeyDeleted), isMismatch(err):
			m.log.Warn("lease taken over", zap.Int("partition", p), zap.Error(err))
			m.lose(p)
		default:
			if !m.Valid(p) {
				m.log.Warn("lease expired", zap.Int("partition", p), zap.Error(err))
				m.lose(p)
			}
		}
	}
	now := time.Now()
	m.mu.Lock()
	share := m.fairShare(now)
	n := len(m.owned)
	m.mu.Unlock()
	// Release extras when replicas joined (one per step, so the spread converges gently).
	if n > share {
		for _, p := range m.Owned() {
			m.release(opctx, p)
			break
		}
		return
	}
	for p := 0; p < m.opt.Partitions && n < share; p++ {
		m.mu.Lock()
		_, mine := m.owned[p]
		s, known := m.leases[p]
		m.mu.Unlock()
		if mine {
			continue
		}
		sent := time.Now()
		var rev uint64
		var err error
		switch {
		case !known || s.gone:
			rev, err = m.kv.Create(opctx, leaseKey(p), me)
		case s.owner == m.opt.ID || now.Sub(s.at) >= m.opt.TTL:
			// Our own stale lease (restart with the same id) or an owner that stopped renewing.
			rev, err = m.kv.Update(opctx, leaseKey(p), me, s.rev)
		default:
			continue
		}
		if err != nil {
			continue // someone else won, or NATS is down; try again next step
		}
		m.mu.Lock()
		m.owned[p] = &held{rev: rev, valid: sent.Add(m.opt.TTL - m.opt.TTL/4)}
		m.mu.Unlock()
		n++
		m.log.Info("lease acquired", zap.Int("partition", p), zap.Uint64("revision", rev))
		if m.cb.Acquired != nil {
			m.cb.Acquired(p)
		}
	}
}

func isMismatch(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (m *Manager) lose(p int) {
	m.mu.Lock()
	_, ok := m.owned[p]
	delete(m.owned, p)
	m.mu.Unlock()
	if ok && m.cb.Lost != nil {
		m.cb.Lost(p)
	}
}

// release stops p's work and deletes the lease so another replica takes it at once.
func (m *Manager) release(ctx context.Context, p int) {
	m.mu.Lock()
	h := m.owned[p]
	m.mu.Unlock()
	if h == nil {
		return
	}
	// Stop the work while the lease still holds, so it can save its state; only then give
	// the lease up.
	if m.cb.Lost != nil {
		m.cb.Lost(p)
	}
	m.mu.Lock()
	delete(m.owned, p)
	m.mu.Unlock()
	if err := m.kv.Delete(ctx, leaseKey(p), jetstream.LastRevision(h.rev)); err != nil {
		m.log.Debug("lease release", zap.Int("partition", p), zap.Error(err))
	}
	m.log.Info("lease released", zap.Int("partition", p))
}

func (m *Manager) stopAll(release bool) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opt.TTL/2)
	defer cancel()
	for _, p := range m.Owned() {
		if release {
			m.release(ctx, p)
		} else {
			m.lose(p)
		}
	}
	if release {
		_ = m.kv.Delete(ctx, memberKey(m.opt.ID))
	}
}
