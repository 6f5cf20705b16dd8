package session

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/buckets"
)

// limiterSet holds token buckets by key (a user, a token, a client address) outside any
// session, so a limit holds however many connections or requests a client makes: a bucket that
// lived in a session would start full again with every new connection or SSE POST.
type limiterSet struct{ set *buckets.Set[string] }

func newLimiterSet(max int, sweep time.Duration) *limiterSet {
	return &limiterSet{set: buckets.New[string](max, sweep)}
}

// get returns key's bucket at rate r and burst b (a changed tenant limit applies to an existing
// bucket at once) and marks it used at now.
func (l *limiterSet) get(key string, r float64, b int, now time.Time) *rate.Limiter {
	return l.set.Limiter(key, rate.Limit(r), b, now)
}

// len returns the number of buckets remembered (tests).
func (l *limiterSet) len() int { return l.set.Len() }
