package session

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet holds token buckets by key (a user, a token, a client address) outside any
// session, so a limit holds however many connections or requests a client makes: a bucket
// that lived in a session would start full again with every new connection or SSE POST.
//
// It is bounded and prunes itself as the visitor limiter does: a bucket left alone for its
// refill time (burst / rate) is full again, exactly as a new one would be, so forgetting it
// changes nothing; a sweep, at most once per sweep period and only when a new key arrives,
// drops those. If more keys than the bound are active at once, one remembered bucket is
// dropped for each newcomer, so memory stays bounded and nobody is refused for lack of room.
type limiterSet struct {
	max   int
	sweep time.Duration

	mu        sync.Mutex
	buckets   map[string]*keyedBucket
	nextSweep time.Time
}

type keyedBucket struct {
	lim    *rate.Limiter
	refill time.Duration
	last   time.Time
}

func newLimiterSet(max int, sweep time.Duration) *limiterSet {
	return &limiterSet{max: max, sweep: sweep, buckets: map[string]*keyedBucket{}}
}

// get returns key's bucket at rate r and burst b (a changed tenant limit applies to an existing
// bucket at once) and marks it used at now.
func (l *limiterSet) get(key string, r float64, b int, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	kb := l.buckets[key]
	if kb == nil {
		l.makeRoomLocked(now)
		kb = &keyedBucket{lim: rate.NewLimiter(rate.Limit(r), b)}
		l.buckets[key] = kb
	} else {
		if kb.lim.Limit() != rate.Limit(r) {
			kb.lim.SetLimitAt(now, rate.Limit(r))
		}
		if kb.lim.Burst() != b {
			kb.lim.SetBurstAt(now, b)
		}
	}
	// Capped at a day: a rate below a burst a day is a configuration mistake.
	kb.refill = time.Duration(math.Min(float64(b)/math.Max(r, 1e-9), 24*3600) * float64(time.Second))
	kb.last = now
	return kb.lim
}

func (l *limiterSet) makeRoomLocked(now time.Time) {
	if len(l.buckets) < l.max && now.Before(l.nextSweep) {
		return
	}
	if !now.Before(l.nextSweep) {
		l.nextSweep = now.Add(l.sweep)
		for k, b := range l.buckets {
			if now.Sub(b.last) >= b.refill {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k) // map order is random: an arbitrary victim
	}
}

// len returns the number of buckets remembered (tests).
func (l *limiterSet) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
