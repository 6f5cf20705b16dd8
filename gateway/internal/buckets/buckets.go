// Package buckets keeps token buckets by key (a user, a token, a client address) in a bounded
// map that prunes itself, for the gateway's rate limits that must outlive any one connection.
//
// A bucket left alone for its refill time (burst / rate) is full again, exactly as a new one
// would be, so forgetting it changes nothing: a sweep, at most once per sweep period and only
// when a new key arrives, drops those. If more keys than the bound are active at once (a flood
// from many addresses), one remembered bucket is dropped for each newcomer, so memory stays
// bounded and nobody is refused for lack of room; the dropped keys merely start again full.
package buckets

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Set holds the buckets. It is safe for concurrent use.
type Set[K comparable] struct {
	max   int
	sweep time.Duration

	mu        sync.Mutex
	buckets   map[K]*bucket
	nextSweep time.Time
}

type bucket struct {
	lim    *rate.Limiter
	refill time.Duration
	last   time.Time
}

// New returns a set of at most max buckets, swept at most once per sweep.
func New[K comparable](max int, sweep time.Duration) *Set[K] {
	return &Set[K]{max: max, sweep: sweep, buckets: map[K]*bucket{}}
}

// Limiter returns key's bucket at rate r and burst b (a changed limit applies to an existing
// bucket at once) and marks it used at now.
func (s *Set[K]) Limiter(key K, r rate.Limit, b int, now time.Time) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	kb := s.buckets[key]
	if kb == nil {
		s.makeRoomLocked(now)
		kb = &bucket{lim: rate.NewLimiter(r, b)}
		s.buckets[key] = kb
	} else {
		if kb.lim.Limit() != r {
			kb.lim.SetLimitAt(now, r)
		}
		if kb.lim.Burst() != b {
			kb.lim.SetBurstAt(now, b)
		}
	}
	kb.refill = Refill(r, b)
	kb.last = now
	return kb.lim
}

// Refill is how long an empty bucket of rate r and burst b takes to fill, capped at a day: a
// rate below a burst a day is a configuration mistake, not a reason to overflow.
func Refill(r rate.Limit, b int) time.Duration {
	return time.Duration(math.Min(float64(b)/math.Max(float64(r), 1e-9), 24*3600) * float64(time.Second))
}

// Len is the number of buckets remembered.
func (s *Set[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}

func (s *Set[K]) makeRoomLocked(now time.Time) {
	if len(s.buckets) < s.max && now.Before(s.nextSweep) {
		return
	}
	if !now.Before(s.nextSweep) {
		s.nextSweep = now.Add(s.sweep)
		for k, b := range s.buckets {
			if now.Sub(b.last) >= b.refill {
				delete(s.buckets, k)
			}
		}
	}
	for k := range s.buckets {
		if len(s.buckets) < s.max {
			break
		}
		delete(s.buckets, k) // map order is random: an arbitrary victim
	}
}
