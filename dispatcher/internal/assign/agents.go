// Package assign holds a tenant's agents (sessions, status, capacity, skills, load) and pairs
// waiting conversations with them under the tenant's policy. It is pure: the caller passes the
// time, performs the I/O a decision implies and undoes the decision if that I/O fails.
package assign

import (
	"slices"
	"strings"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// DefaultMaxChats is an agent's capacity when neither the token nor the tenant says.
const DefaultMaxChats = 3

// Agent is one agent of a tenant.
type Agent struct {
	// ID is the user id.
	ID string
	// Name is the display name.
	Name string
	// Status is the agent's own choice, available or away; it persists across sessions.
	// A new agent is away until they say available.
	Status string
	// MaxChats is the capacity from the token (0: DefaultMaxChats).
	MaxChats int
	// Skills are the agent's skills, sorted.
	Skills []string
	// Sessions maps live session ids to when they expire without a new heartbeat.
	Sessions map[string]time.Time
	// LostAt is when the last session went (zero while a session is live or when the agent
	// was already declared offline).
	LostAt time.Time
	// Offline is set once the agent had no session for the grace period.
	Offline bool
	// Active are the agent's current conversations.
	Active map[string]bool
	// Offers are conversations offered to the agent and not yet answered; they hold capacity.
	Offers map[string]bool
	// LastAssigned is when the agent last got a conversation (zero: never; longest idle).
	LastAssigned time.Time
	// Missed counts consecutive offers that timed out.
	Missed int
}

// Online reports whether the agent has a live session.
func (a *Agent) Online() bool { return len(a.Sessions) > 0 }

// Load is the number of conversations held, offers included.
func (a *Agent) Load() int { return len(a.Active) + len(a.Offers) }

// Has reports whether the agent has every skill in needs (both sorted).
func (a *Agent) Has(needs []string) bool {
	for _, n := range needs {
		if _, ok := slices.BinarySearch(a.Skills, n); !ok {
			return false
		}
	}
	return true
}

// Heartbeat is what the pool needs from a session heartbeat.
type Heartbeat struct {
	// Agent is the agent's user id.
	Agent string
	// Name is the display name.
	Name string
	// Session is the session id.
	Session string
	// Online is false for a goodbye.
	Online bool
	// TTL is how long the heartbeat keeps the session alive.
	TTL time.Duration
	// Skills and MaxChats come from the token.
	Skills   []string
	MaxChats int
}

// Pool is a tenant's agents. Not safe for concurrent use.
type Pool struct {
	agents map[string]*Agent
	list   []*Agent // sorted by id, for round robin and deterministic iteration
	// MaxChats overrides every agent's capacity when > 0 (tenant setting).
	MaxChats int
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{agents: map[string]*Agent{}} }

// Get returns the agent with id, or nil.
func (p *Pool) Get(id string) *Agent { return p.agents[id] }

// Ensure returns the agent with id, creating it (away, no session) if unknown.
func (p *Pool) Ensure(id string) *Agent {
	if a := p.agents[id]; a != nil {
		return a
	}
	a := &Agent{ID: id, Status: frames.StatusAway, Sessions: map[string]time.Time{},
		Active: map[string]bool{}, Offers: map[string]bool{}}
	p.agents[id] = a
	i, _ := slices.BinarySearchFunc(p.list, id, func(x *Agent, id string) int { return strings.Compare(x.ID, id) })
	p.list = slices.Insert(p.list, i, a)
	return a
}

// Each calls fn for every agent in id order.
func (p *Pool) Each(fn func(a *Agent)) {
	for _, a := range p.list {
		fn(a)
	}
}

// Capacity is a's capacity after the tenant override.
func (p *Pool) Capacity(a *Agent) int {
	switch {
	case p.MaxChats > 0:
		return p.MaxChats
	case a.MaxChats > 0:
		return a.MaxChats
	}
	return DefaultMaxChats
}

// Routable reports whether a can take a conversation now: online, available and below
// capacity. Online alone is not enough.
func (p *Pool) Routable(a *Agent) bool {
	return a.Online() && a.Status == frames.StatusAvailable && a.Load() < p.Capacity(a)
}

// Refusal says why an agent cannot take a conversation transferred to them by name.
type Refusal int

const (
	// Takes means the agent can take it.
	Takes Refusal = iota
	// RefusedOffline is an unknown agent or one without a live session.
	RefusedOffline
	// RefusedAway is an online agent whose own status is away: they asked for no new
	// conversations, and a colleague's transfer is one.
	RefusedAway
	// RefusedFull is an available agent at capacity (offers they hold count).
	RefusedFull
)

// TransferTarget reports whether a (nil: unknown) can take a conversation another agent hands
// to them by name, and if not, why. The first reason that applies wins: offline, away, full.
// Unlike routing it ignores skills: the transferring agent chose the person, not the lane.
func (p *Pool) TransferTarget(a *Agent) Refusal {
	switch {
	case a == nil || !a.Online():
		return RefusedOffline
	case a.Status != frames.StatusAvailable:
		return RefusedAway
	case a.Load() >= p.Capacity(a):
		return RefusedFull
	}
	return Takes
}

// Observe applies a heartbeat at now. It reports whether the agent's routability may have
// changed (a first session, or a goodbye of the last one).
func (p *Pool) Observe(h Heartbeat, now time.Time) bool {
	a := p.Ensure(h.Agent)
	if h.Name != "" {
		a.Name = h.Name
	}
	if h.MaxChats > 0 {
		a.MaxChats = h.MaxChats
	}
	if h.Skills != nil {
		a.Skills = Sorted(h.Skills)
	}
	was := a.Online()
	if !h.Online {
		delete(a.Sessions, h.Session)
		if was && !a.Online() {
			a.LostAt = now
			return true
		}
		return false
	}
	a.Sessions[h.Session] = now.Add(h.TTL)
	if !was {
		a.LostAt = time.Time{}
		a.Offline = false
		return true
	}
	return false
}

// Expire drops sessions whose heartbeats stopped (a dead gateway's sessions go by themselves)
// and returns the agents that lost their last session.
func (p *Pool) Expire(now time.Time) []*Agent {
	var lost []*Agent
	for _, a := range p.list {
		if len(a.Sessions) == 0 {
			continue
		}
		for s, exp := range a.Sessions {
			if !now.Before(exp) {
				delete(a.Sessions, s)
			}
		}
		if len(a.Sessions) == 0 {
			a.LostAt = now
			lost = append(lost, a)
		}
	}
	return lost
}

// GoneOffline returns the agents with no session for grace or longer that were not declared
// offline yet, and declares them offline. Their conversations are the caller's to re-queue.
func (p *Pool) GoneOffline(now time.Time, grace time.Duration) []*Agent {
	var out []*Agent
	for _, a := range p.list {
		if a.Online() || a.Offline || a.LostAt.IsZero() || now.Sub(a.LostAt) < grace {
			continue
		}
		a.Offline = true
		a.LostAt = time.Time{}
		out = append(out, a)
	}
	return out
}

// Sorted returns a sorted, deduplicated copy of skills without empty strings.
func Sorted(skills []string) []string {
	out := make([]string, 0, len(skills))
	for _, s := range skills {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Counts are agents by presence and status.
type Counts struct {
	// Available are online agents with status available (routable or full).
	Available int
	// Away are online agents with status away.
	Away int
	// Offline are agents with no live session.
	Offline int
	// Routable are available agents with spare capacity.
	Routable int
}

// Counts returns agents by status.
func (p *Pool) Counts() Counts {
	var c Counts
	for _, a := range p.agents {
		switch {
		case !a.Online():
			c.Offline++
		case a.Status == frames.StatusAvailable:
			c.Available++
			if p.Routable(a) {
				c.Routable++
			}
		default:
			c.Away++
		}
	}
	return c
}
