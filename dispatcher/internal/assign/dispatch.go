package assign

import (
	"math"
	"slices"
	"time"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
)

// Policy names.
const (
	// LeastBusy picks the agent with the fewest chats relative to capacity, then the longest
	// idle, then the lowest id.
	LeastBusy = "least_busy"
	// RoundRobin picks the next agent after the last one assigned, in id order.
	RoundRobin = "round_robin"
)

// Chooser lets a routing hook pick among candidates (already filtered and ordered by the
// built-in policy). Returning nil falls back to the first candidate.
type Chooser func(e *queue.Entry, candidates []*Agent) *Agent

// Dispatch is one tenant's dispatcher state: its waiting line and its agents.
type Dispatch struct {
	// Q is the waiting line.
	Q *queue.Queue
	// Agents are the tenant's agents.
	Agents *Pool
	// Policy is LeastBusy (default) or RoundRobin.
	Policy string
	// Offer makes decisions offers that the agent must accept.
	Offer bool
	// Handle estimates handling time for ETAs.
	Handle *Rate

	rrLast      string
	free, cands []*Agent
	laneOK      func(queue.Lane) bool
	entryOK     func(*queue.Entry) bool
}

// New returns an empty dispatch state.
func New(starveAfter time.Duration) *Dispatch {
	return &Dispatch{Q: queue.New(starveAfter), Agents: NewPool(), Policy: LeastBusy, Handle: NewRate(0)}
}

// Match is one decision: give Entry to Agent (or offer it, when Offer).
type Match struct {
	// Entry is the conversation; removed from the queue unless Offer.
	Entry *queue.Entry
	// Agent gets it.
	Agent *Agent
	// Offer is true when the agent must accept first.
	Offer bool
	// prevLast is the agent's LastAssigned and rr the round robin cursor before the match,
	// for Undo.
	prevLast time.Time
	prevRR   string
}

// Next makes the next decision at now, applying it to the state, or reports false when no
// waiting conversation can go to any routable agent. choose may be nil.
func (d *Dispatch) Next(now time.Time, choose Chooser) (Match, bool) {
	if d.Q.Len() == 0 {
		return Match{}, false
	}
	// Scratch slices and filters are reused: Next runs once per assignment, and garbage here
	// makes the collector rescan the whole waiting line.
	d.free = d.free[:0]
	for _, a := range d.Agents.list {
		if d.Agents.Routable(a) {
			d.free = append(d.free, a)
		}
	}
	if len(d.free) == 0 {
		return Match{}, false
	}
	if d.laneOK == nil {
		d.laneOK = func(l queue.Lane) bool {
			for _, a := range d.free {
				if a.Has(l.Needs) {
					return true
				}
			}
			return false
		}
		d.entryOK = func(e *queue.Entry) bool {
			if len(e.Excluded) == 0 {
				return true // the lane check already found a skilled agent
			}
			for _, a := range d.free {
				if a.Has(e.Needs) && !e.Excluded[a.ID] {
					return true
				}
			}
			return false
		}
	}
	e := d.Q.Best(now, d.laneOK, d.entryOK)
	if e == nil {
		return Match{}, false
	}
	d.cands = d.cands[:0]
	for _, a := range d.free {
		if a.Has(e.Needs) && !e.Excluded[a.ID] {
			d.cands = append(d.cands, a)
		}
	}
	var a *Agent
	if choose != nil {
		d.order(d.cands)
		a = d.cands[0]
		if c := choose(e, slices.Clone(d.cands)); c != nil && slices.Contains(d.cands, c) {
			a = c
		}
	} else {
		a = d.cands[0]
		for _, c := range d.cands[1:] {
			if d.better(c, a) {
				a = c
			}
		}
	}
	m := Match{Entry: e, Agent: a, Offer: d.Offer, prevLast: a.LastAssigned, prevRR: d.rrLast}
	d.rrLast = a.ID
	a.LastAssigned = now
	if d.Offer {
		e.Offered, e.OfferedAt = a.ID, now
		a.Offers[e.Conv] = true
	} else {
		d.Q.Remove(e.Conv)
		a.Active[e.Conv] = true
	}
	return m, true
}

// Undo reverts a Match whose side effects failed: the entry returns to its place.
func (d *Dispatch) Undo(m Match) {
	m.Agent.LastAssigned = m.prevLast
	d.rrLast = m.prevRR
	if m.Offer {
		delete(m.Agent.Offers, m.Entry.Conv)
		m.Entry.Offered = ""
		return
	}
	delete(m.Agent.Active, m.Entry.Conv)
	d.Q.Push(m.Entry) // keeps its Seq, so it goes back where it was
}

// Accept turns agent's outstanding offer of conv into an assignment and returns the entry
// (removed from the queue), or nil if there is no such offer.
func (d *Dispatch) Accept(agent, conv string, now time.Time) *queue.Entry {
	a := d.Agents.Get(agent)
	e := d.Q.Get(conv)
	if a == nil || e == nil || e.Offered != agent || !a.Offers[conv] {
		return nil
	}
	delete(a.Offers, conv)
	d.Q.Remove(conv)
	a.Active[conv] = true
	a.Missed = 0
	a.LastAssigned = now
	return e
}

// Withdraw ends agent's offer of conv (declined, or missed when timedOut) so the conversation
// goes to someone else; the agent is excluded for it. It reports whether there was an offer.
func (d *Dispatch) Withdraw(agent, conv string, timedOut bool) bool {
	a := d.Agents.Get(agent)
	e := d.Q.Get(conv)
	if a == nil || e == nil || e.Offered != agent {
		return false
	}
	delete(a.Offers, conv)
	e.Offered = ""
	if e.Excluded == nil {
		e.Excluded = map[string]bool{}
	}
	e.Excluded[agent] = true
	if timedOut {
		a.Missed++
	}
	return true
}

// Expired returns the offers older than timeout at now, as (agent, conv) pairs. An offer whose
// conversation left the queue is dropped on the way, so it cannot hold capacity forever.
func (d *Dispatch) Expired(now time.Time, timeout time.Duration) [][2]string {
	var out [][2]string
	d.Agents.Each(func(a *Agent) {
		for conv := range a.Offers {
			e := d.Q.Get(conv)
			switch {
			case e == nil || e.Offered != a.ID:
				delete(a.Offers, conv)
			case now.Sub(e.OfferedAt) >= timeout:
				out = append(out, [2]string{a.ID, conv})
			}
		}
	})
	slices.SortFunc(out, func(x, y [2]string) int {
		if x[1] < y[1] {
			return -1
		}
		if x[1] > y[1] {
			return 1
		}
		return 0
	})
	return out
}

// Release frees conv from agent (closed, transferred or re-queued) and returns whether the
// agent held it.
func (d *Dispatch) Release(agent, conv string) bool {
	a := d.Agents.Get(agent)
	if a == nil || !a.Active[conv] {
		return false
	}
	delete(a.Active, conv)
	return true
}

// order sorts candidates best first under the policy.
func (d *Dispatch) order(c []*Agent) { slices.SortFunc(c, d.compare) }

// better reports whether x goes before y under the policy.
func (d *Dispatch) better(x, y *Agent) bool { return d.compare(x, y) < 0 }

func (d *Dispatch) compare(x, y *Agent) int {
	if d.Policy == RoundRobin {
		// The first id after the last one served, wrapping around.
		xa, ya := x.ID > d.rrLast, y.ID > d.rrLast
		if xa != ya {
			if xa {
				return -1
			}
			return 1
		}
		return cmpStr(x.ID, y.ID)
	}
	// Least busy: x.load/x.cap vs y.load/y.cap without division, then longest idle, then id.
	if l := x.Load()*d.Agents.Capacity(y) - y.Load()*d.Agents.Capacity(x); l != 0 {
		return l
	}
	if !x.LastAssigned.Equal(y.LastAssigned) {
		if x.LastAssigned.Before(y.LastAssigned) {
			return -1
		}
		return 1
	}
	return cmpStr(x.ID, y.ID)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Service is the serving power for one lane: how many slots eligible agents have and how
// many are free.
type Service struct {
	// Slots is the total capacity of online, available agents with the skills.
	Slots int
	// Free is their spare capacity.
	Free int
}

// ServiceFor returns the serving power for needs.
func (d *Dispatch) ServiceFor(needs []string) Service {
	var s Service
	d.Agents.Each(func(a *Agent) {
		if !a.Online() || a.Status != "available" || !a.Has(needs) {
			return
		}
		c := d.Agents.Capacity(a)
		s.Slots += c
		if f := c - a.Load(); f > 0 {
			s.Free += f
		}
	})
	return s
}

// ETA estimates the wait of the customer at pos (1 = next) given the lane's service and the
// recent handling time: each slot frees up once per handling time, so the queue moves at
// Slots/handle. It reports false when nobody can serve (no estimate is better than a lie).
func ETA(pos int, s Service, handle time.Duration) (time.Duration, bool) {
	if s.Slots == 0 {
		return 0, false
	}
	ahead := pos - s.Free
	if ahead <= 0 {
		return 0, true
	}
	return time.Duration(float64(ahead) * float64(handle) / float64(s.Slots)), true
}

// Rate tracks recent handling times (assignment to close) as an exponentially weighted mean.
type Rate struct {
	mean  float64 // seconds
	n     int
	prior time.Duration
}

// DefaultHandle is the handling time assumed before any conversation was handled.
const DefaultHandle = 5 * time.Minute

// NewRate returns a tracker that assumes prior (0: DefaultHandle) until it has samples.
func NewRate(prior time.Duration) *Rate {
	if prior <= 0 {
		prior = DefaultHandle
	}
	return &Rate{prior: prior}
}

// Observe adds a handling time.
func (r *Rate) Observe(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	const alpha = 0.2
	r.n++
	if r.n == 1 {
		r.mean = d.Seconds()
		return
	}
	r.mean = alpha*d.Seconds() + (1-alpha)*r.mean
}

// Mean is the current estimate: the prior blended out over the first samples.
func (r *Rate) Mean() time.Duration {
	if r.n == 0 {
		return r.prior
	}
	// Few samples: lean on the prior so one quick chat does not promise instant service.
	w := math.Min(float64(r.n)/5, 1)
	return time.Duration((w*r.mean + (1-w)*r.prior.Seconds()) * float64(time.Second))
}
