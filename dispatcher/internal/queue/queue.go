// Package queue is a tenant's waiting line: conversations ordered by front-of-line placement,
// priority and arrival, grouped in lanes of identical requirements so that finding the next
// conversation an agent can take costs O(lanes x priorities), not O(waiting customers).
//
// The package is pure: no clock, no I/O. Callers pass the time and apply side effects.
package queue

import (
	"slices"
	"strings"
	"time"
)

// Entry is one waiting conversation. Fields other than the unexported ones are set by the
// caller before Push and must not change while the entry is queued, except Offered, Excluded
// and the caller's bookkeeping fields (Told*, MaxWaitNoticed).
type Entry struct {
	// Conv is the conversation id, unique within the queue.
	Conv string
	// Customer is the customer's user id.
	Customer string
	// Queue is the named queue the conversation waits in; positions count within it.
	Queue string
	// Needs are the skills an agent must have (queue skills, conversation skills, queue
	// language), sorted and deduplicated (see Needs).
	Needs []string
	// Priority: higher is served first.
	Priority int32
	// Front places the entry ahead of every non-front entry (re-queued after agent loss or
	// transfer: the customer already waited once).
	Front bool
	// Seq is the arrival order; 0 asks Push to assign the next one. Lower is older.
	Seq uint64
	// Since is when the entry joined the queue (starvation and wait metrics).
	Since time.Time
	// Offered is the agent holding an offer for this entry; offered entries are skipped.
	Offered string
	// OfferedAt is when the offer was made.
	OfferedAt time.Time
	// Excluded are agents who declined or missed an offer of this entry.
	Excluded map[string]bool
	// ToldPos and ToldETA are what the customer was last told (0: nothing yet).
	ToldPos, ToldETA int32
	// MaxWaitNoticed is set once the customer was told the maximum wait passed.
	MaxWaitNoticed bool

	lane       *lane
	bucket     *bucket
	prev, next *Entry
}

// Needs returns the sorted, deduplicated union of skill lists, without empty strings.
func Needs(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Less reports whether a is served before b, ignoring starvation: front entries first, then
// higher priority, then older.
func Less(a, b *Entry) bool {
	if a.Front != b.Front {
		return a.Front
	}
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.Seq < b.Seq
}

// bucket is a FIFO of entries sharing front and priority, in Seq order.
type bucket struct {
	front      bool
	priority   int32
	head, tail *Entry
	n          int
}

func (b *bucket) before(o *bucket) bool {
	if b.front != o.front {
		return b.front
	}
	return b.priority > o.priority
}

// lane groups entries with the same queue and needs.
type lane struct {
	key     string
	queue   string
	needs   []string
	buckets []*bucket // ordered by bucket.before
	n       int
}

// Queue is a tenant's waiting conversations. Not safe for concurrent use.
type Queue struct {
	lanes  map[string]*lane
	order  []*lane // sorted by key, for deterministic iteration
	byConv map[string]*Entry
	seq    uint64
	// StarveAfter promotes an entry that waited this long ahead of higher priorities, so a
	// stream of VIPs cannot starve everyone else (0: never).
	StarveAfter time.Duration
}

// New returns an empty queue.
func New(starveAfter time.Duration) *Queue {
	return &Queue{lanes: map[string]*lane{}, byConv: map[string]*Entry{}, StarveAfter: starveAfter}
}

// Len is the number of waiting entries.
func (q *Queue) Len() int { return len(q.byConv) }

// Get returns the entry of conv, or nil.
func (q *Queue) Get(conv string) *Entry { return q.byConv[conv] }

// NextSeq is the Seq the next Push without one would get.
func (q *Queue) NextSeq() uint64 { return q.seq + 1 }

// Push adds e. An entry with Seq 0 gets the next sequence; an entry with a given Seq (rebuild
// after failover) keeps it and later pushes get higher ones. Pushing a conversation already
// queued replaces nothing and returns false.
func (q *Queue) Push(e *Entry) bool {
	if _, ok := q.byConv[e.Conv]; ok {
		return false
	}
	if e.Seq == 0 {
		q.seq++
		e.Seq = q.seq
	} else if e.Seq > q.seq {
		q.seq = e.Seq
	}
	key := e.Queue + "|" + strings.Join(e.Needs, ",")
	l := q.lanes[key]
	if l == nil {
		l = &lane{key: key, queue: e.Queue, needs: e.Needs}
		q.lanes[key] = l
		i, _ := slices.BinarySearchFunc(q.order, key, func(x *lane, k string) int { return strings.Compare(x.key, k) })
		q.order = slices.Insert(q.order, i, l)
	}
	probe := bucket{front: e.Front, priority: e.Priority}
	i := 0
	for i < len(l.buckets) && l.buckets[i].before(&probe) {
		i++
	}
	var b *bucket
	if i < len(l.buckets) && l.buckets[i].front == e.Front && l.buckets[i].priority == e.Priority {
		b = l.buckets[i]
	} else {
		b = &bucket{front: e.Front, priority: e.Priority}
		l.buckets = slices.Insert(l.buckets, i, b)
	}
	// New entries have the highest Seq and append in O(1); rebuilt ones walk back to their place.
	after := b.tail
	for after != nil && after.Seq > e.Seq {
		after = after.prev
	}
	e.lane, e.bucket = l, b
	if after == nil {
		e.prev, e.next = nil, b.head
		if b.head != nil {
			b.head.prev = e
		}
		b.head = e
	} else {
		e.prev, e.next = after, after.next
		if after.next != nil {
			after.next.prev = e
		}
		after.next = e
	}
	if e.next == nil {
		b.tail = e
	}
	b.n++
	l.n++
	q.byConv[e.Conv] = e
	return true
}

// Remove takes conv out of the queue and returns its entry (nil if not queued).
func (q *Queue) Remove(conv string) *Entry {
	e := q.byConv[conv]
	if e == nil {
		return nil
	}
	delete(q.byConv, conv)
	b, l := e.bucket, e.lane
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		b.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		b.tail = e.prev
	}
	e.prev, e.next, e.lane, e.bucket = nil, nil, nil, nil
	b.n--
	l.n--
	if b.n == 0 {
		l.buckets = slices.DeleteFunc(l.buckets, func(x *bucket) bool { return x == b })
	}
	if l.n == 0 {
		delete(q.lanes, l.key)
		q.order = slices.DeleteFunc(q.order, func(x *lane) bool { return x == l })
	}
	return e
}

// Position is conv's place in its named queue, 1 = next (0 if not queued). It costs
// O(lanes x priorities) plus the entries queued after conv in its own bucket, which is none
// for a conversation that just arrived.
func (q *Queue) Position(conv string) int {
	e := q.byConv[conv]
	if e == nil {
		return 0
	}
	pos := 1
	for _, l := range q.order {
		if l.queue != e.Queue {
			continue
		}
		for _, b := range l.buckets {
			switch {
			case b == e.bucket:
				pos += b.n - 1
				for x := e.next; x != nil; x = x.next {
					pos--
				}
			case b.before(e.bucket):
				pos += b.n
			case !e.bucket.before(b): // same front and priority, another lane: count older ones
				pos += b.n
				for x := b.tail; x != nil && x.Seq > e.Seq; x = x.prev {
					pos-- // newer than e; none for a conversation that just arrived
				}
			}
		}
	}
	return pos
}

// Each calls fn for every entry in service order (ignoring starvation) with its position in
// its named queue, until fn returns false. It costs O(n x buckets).
func (q *Queue) Each(fn func(e *Entry, pos int) bool) {
	type cursor struct {
		e   *Entry
		pos *int // shared by the lanes of one named queue
	}
	counters := map[string]*int{}
	var cur []cursor
	for _, l := range q.order {
		c := counters[l.queue]
		if c == nil {
			c = new(int)
			counters[l.queue] = c
		}
		for _, b := range l.buckets {
			cur = append(cur, cursor{b.head, c})
		}
	}
	for {
		best := -1
		for i := range cur {
			if cur[i].e != nil && (best < 0 || Less(cur[i].e, cur[best].e)) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		c := &cur[best]
		e := c.e
		c.e = e.next
		*c.pos++
		if !fn(e, *c.pos) {
			return
		}
	}
}

// Stats are per named queue figures.
type Stats struct {
	// Len is the number of waiting entries.
	Len int
	// Oldest is the earliest Since (zero when empty).
	Oldest time.Time
}

// Stats returns figures per named queue.
func (q *Queue) Stats() map[string]Stats {
	out := map[string]Stats{}
	for _, l := range q.order {
		s := out[l.queue]
		s.Len += l.n
		// Since grows with Seq inside a bucket, so the heads hold the oldest.
		for _, b := range l.buckets {
			if s.Oldest.IsZero() || b.head.Since.Before(s.Oldest) {
				s.Oldest = b.head.Since
			}
		}
		out[l.queue] = s
	}
	return out
}

// Lane describes a group of entries with the same requirements, for callers deciding whether
// any agent could serve it.
type Lane struct {
	// Queue is the named queue.
	Queue string
	// Needs are the required skills.
	Needs []string
}

// Best returns the entry to serve next among those laneOK and ok accept, or nil. Within a lane
// the first acceptable entry of each bucket is a candidate; the winner is the oldest candidate
// that waited StarveAfter or more, else the first by Less. Offered entries are never returned.
func (q *Queue) Best(now time.Time, laneOK func(Lane) bool, ok func(*Entry) bool) *Entry {
	var best, starved *Entry
	for _, l := range q.order {
		if laneOK != nil && !laneOK(Lane{Queue: l.queue, Needs: l.needs}) {
			continue
		}
		for _, b := range l.buckets {
			for x := b.head; x != nil; x = x.next {
				if x.Offered != "" || (ok != nil && !ok(x)) {
					continue
				}
				if best == nil || Less(x, best) {
					best = x
				}
				if q.StarveAfter > 0 && now.Sub(x.Since) >= q.StarveAfter && (starved == nil || x.Seq < starved.Seq) {
					starved = x
				}
				break
			}
		}
	}
	if starved != nil {
		return starved
	}
	return best
}

// Lanes calls fn for every lane with its entry count.
func (q *Queue) Lanes(fn func(l Lane, n int)) {
	for _, l := range q.order {
		fn(Lane{Queue: l.queue, Needs: l.needs}, l.n)
	}
}
