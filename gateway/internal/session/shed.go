package session

// Overload shedding: a bounded window of JetStream publishes in flight per gateway. When the
// store cannot keep up, a frame that would wait behind the window is refused at once with
// `overloaded` instead of queueing without bound (a multi-second ack, then a timeout, with the
// memory of every waiting frame held meanwhile).

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// errOverloaded refuses a frame that found the publish window full (CodeOverloaded).
var errOverloaded = errors.New("overloaded")

// publishWindow is a counting semaphore over the gateway's JetStream publishes.
type publishWindow struct {
	slots chan struct{}
	wait  time.Duration
}

func newPublishWindow(n int, wait time.Duration) *publishWindow {
	return &publishWindow{slots: make(chan struct{}, n), wait: wait}
}

// acquire takes a slot, waiting at most w.wait (a burst that clears within it is not refused)
// and never beyond ctx; otherwise it fails with errOverloaded. Each success needs a release.
func (w *publishWindow) acquire(ctx context.Context) error {
	select {
	case w.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(w.wait)
	defer t.Stop()
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errOverloaded
	case <-ctx.Done():
		return errOverloaded
	}
}

func (w *publishWindow) release() { <-w.slots }

// inFlight returns the publishes in flight (tests, metrics).
func (w *publishWindow) inFlight() int { return len(w.slots) }

// Shedding by CPU starvation. The window above sees a store that falls behind; it cannot see a
// gateway short of CPU, whose frames wait in the sockets' buffers before they are even read
// (issue 18's overload shape: 2.5% of sends answered after a second on a saturated machine,
// with the window never full). Goroutines then wait to run, so the Go scheduler's latency is
// the signal: while its p99 over the last janitor tick is above the limit, and the gateway is
// busy, a growing share of new sends is refused with `overloaded` (each refusal spares a store,
// its deliveries and its consumers), and the share falls back as soon as the latency does. A
// quiet gateway on a loaded machine sheds nothing: under minSends offered a tick, its own
// traffic is not what starves it. "Busy" counts the sends offered, refused ones included: were
// it to count the admitted ones, a share near the cap would make a loaded gateway look quiet
// and halve the share while it is still late, so the share would swing instead of holding.

// DefaultShedLatency and DefaultShedMinSends are the defaults of Config.ShedLatency and
// ShedMinSends: a scheduler p99 of 20 ms is far above a healthy gateway's (well under 1 ms)
// and well under what makes an ack late; 100 messages a tick is 1,000 a second.
const (
	DefaultShedLatency  = 20 * time.Millisecond
	DefaultShedMinSends = 100
)

// shedCap is the largest share of publishes refused, in thousandths: some always get through,
// so the latency keeps being measured with traffic and clients keep making progress.
const shedCap = 900

// cpuShed holds the share of sends to refuse, updated once a tick by observe.
type cpuShed struct {
	limit    time.Duration // scheduler latency p99 above which sends are shed; 0: never
	minSends uint64        // sends offered in a tick below which nothing is shed

	drop    atomic.Uint32 // share refused, in thousandths
	offered atomic.Uint64 // sends offered since the last tick, admitted or not

	// Owned by observe (the janitor's goroutine), kept between ticks so a tick allocates
	// nothing.
	sample   []metrics.Sample
	prev     []uint64 // the histogram's cumulative counts at the last tick
	interval []uint64 // the counts of the last tick
}

func newCPUShed(limit time.Duration, minSends int) *cpuShed {
	return &cpuShed{limit: limit, minSends: uint64(max(minSends, 0)),
		sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
}

// admit reports whether a new send goes ahead.
func (c *cpuShed) admit() bool {
	if c == nil || c.limit <= 0 {
		return true
	}
	c.offered.Add(1)
	d := c.drop.Load()
	return d == 0 || rand.Uint32N(1000) >= d
}

// observe reads the scheduler's latencies since the last call and sets the share to refuse.
func (c *cpuShed) observe() {
	if c == nil || c.limit <= 0 {
		return
	}
	metrics.Read(c.sample)
	if c.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return
	}
	h := c.sample[0].Value.Float64Histogram()
	c.interval = append(c.interval[:0], h.Counts...)
	if len(c.prev) == len(h.Counts) {
		for i, n := range h.Counts {
			c.interval[i] = n - c.prev[i]
		}
	} else {
		clear(c.interval) // the first tick: no interval yet
	}
	c.prev = append(c.prev[:0], h.Counts...)
	p99 := histQuantile(c.interval, h.Buckets, 0.99)
	c.drop.Store(nextDrop(c.drop.Load(), p99, c.limit, c.offered.Swap(0) >= c.minSends))
}

// nextDrop is the controller: up by a tenth while the latency is over the limit and the
// gateway busy, halved otherwise (quick to shed, quick to let traffic back).
func nextDrop(drop uint32, p99, limit time.Duration, busy bool) uint32 {
	if busy && p99 > limit {
		return min(drop+100, shedCap)
	}
	return drop / 2
}

// histQuantile returns the q quantile of a runtime/metrics histogram's counts (the upper bound
// of the bucket it falls in, the lower one for the last, unbounded bucket); 0 with no counts.
func histQuantile(counts []uint64, buckets []float64, q float64) time.Duration {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			upper := buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}
