package session

import (
	"crypto/sha256"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DefaultContactSeenEvery is how often a customer's connections are recorded on their contact
// (last seen, the page, the token's name, email and attributes) when Config.ContactSeenEvery
// is zero.
const DefaultContactSeenEvery = 10 * time.Minute

// maxSeen bounds the sightings remembered: about 100 bytes each, 6 MiB in all.
const maxSeen = 1 << 16

// maxPageBytes bounds the page a widget reports; longer ones are not recorded.
const maxPageBytes = 512

// Every customer connection used to upsert its contact in the record, a NATS request and a
// Postgres write, so a reconnect storm (a deploy, a flaky mobile network, an attacker with a
// free visitor token reconnecting in a loop) wrote the contacts table once per socket. A
// contact only needs its last sighting to be about right, and what the token says about the
// customer rarely changes: seenThrottle lets a sighting through once per interval for the same
// customer saying the same things on the same page, and at once when any of it changed.
type seenThrottle struct {
	every time.Duration // <0: every sighting goes through
	max   int

	mu   sync.Mutex
	last map[[sha256.Size]byte]time.Time
}

func newSeenThrottle(every time.Duration, max int) *seenThrottle {
	if every == 0 {
		every = DefaultContactSeenEvery
	}
	return &seenThrottle{every: every, max: max, last: map[[sha256.Size]byte]time.Time{}}
}

// due reports whether this sighting is recorded, and remembers it if so.
func (t *seenThrottle) due(tenant, page string, c *fd.Contact, now time.Time) bool {
	if t.every < 0 {
		return true
	}
	k := seenKey(tenant, page, c)
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.last[k]; ok && now.Sub(at) < t.every {
		return false
	}
	if len(t.last) >= t.max {
		t.evict(now)
	}
	t.last[k] = now
	return true
}

// evict forgets the sightings older than the interval, and if that frees nothing, an
// arbitrary one: forgetting one costs a single extra write when that customer comes back.
func (t *seenThrottle) evict(now time.Time) {
	for k, at := range t.last {
		if now.Sub(at) >= t.every {
			delete(t.last, k)
		}
	}
	for k := range t.last {
		if len(t.last) < t.max {
			return
		}
		delete(t.last, k)
	}
}

// seenKey identifies a sighting by everything it would write, so a change of name, email,
// attributes or page is recorded at once.
func seenKey(tenant, page string, c *fd.Contact) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{tenant, c.GetId(), c.GetName(), c.GetEmail(), page} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	attrs := c.GetAttributes()
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(attrs[k]))
		h.Write([]byte{0})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// ContactPage is the page a widget says its customer is on (the `page` query parameter of the
// upgrade), as the contact keeps it: an http(s) URL without its query and fragment, which may
// carry the customer's tokens or search terms. Anything else is not a page and is dropped:
// the page is a hint for agents, never worth refusing a connection over.
func ContactPage(raw string) string {
	if raw == "" || len(raw) > maxPageBytes {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	return u.String()
}

// SetPage keeps the page a customer's widget said it is on (frames.QueryPage) for their
// contact; staff sessions have no contact. Call it before Start.
func (s *Session) SetPage(raw string) {
	if s.role == frames.RoleCustomer {
		s.page = ContactPage(raw)
	}
}
