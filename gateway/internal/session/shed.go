package session

// Overload shedding: a bounded window of JetStream publishes in flight per gateway. When the
// store cannot keep up, a frame that would wait behind the window is refused at once with
// `overloaded` instead of queueing without bound (a multi-second ack, then a timeout, with the
// memory of every waiting frame held meanwhile).

import (
	"context"
	"errors"
	"math"
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

// Admission of new messages. The window above sees a store that falls behind; it cannot see a
// gateway short of CPU, whose frames wait in the sockets' buffers before they are even read
// (issue 18's overload shape). Refusing a share of the sends once the process is late (the
// controller of session 6) lets the load swing around saturation, so everything admitted
// queues. Instead, new sends pass a token bucket whose rate follows what the process carries,
// by AIMD: each janitor tick reads the Go scheduler's latency p99 (goroutines waiting to run)
// and the JetStream publish latency p99 of the tick; when either is over its limit the rate is
// cut to a fraction of what was admitted, otherwise it grows by a small step, so the admitted
// load settles just under saturation and the excess is refused at once with `overloaded`
// (no store, no NATS, no deliveries), before it can queue.
//
// A quiet gateway on a loaded machine refuses nothing: under minSends offered in a tick the gate
// is open, whatever the latencies, since its own traffic is not what starves it. "Offered"
// counts refused sends too, so a gateway that refuses most of its load still counts as busy.
// The gate also opens again once its rate is well above what is offered (it no longer binds).

// DefaultShedLatency, DefaultShedPublishLatency and DefaultShedMinSends are the defaults of
// Config.ShedLatency, ShedPublishLatency and ShedMinSends: a scheduler p99 of 20 ms is far above
// a healthy gateway's (well under 1 ms) and under what makes an ack late; an in-process or
// nearby JetStream stores in a few milliseconds, so a publish p99 of 50 ms (the whole budget of
// an acked send) is a store falling behind, not a busy disk's blip; 100 messages a tick is 1,000
// a second.
const (
	DefaultShedLatency        = 20 * time.Millisecond
	DefaultShedPublishLatency = 50 * time.Millisecond
	DefaultShedMinSends       = 100
)

// The controller's constants. shedCap is the largest share of sends refused, in thousandths:
// some always get through, so the latencies keep being measured with traffic and clients keep
// making progress. aimdCut is the multiplicative decrease, aimdStep the increase per on-time tick
// as a share of the rate (aimdMinStep sends a second at least: from a cut, back in 6 ticks), aimdOpen how far above the
// offered rate the rate may grow before the gate opens. admitBurst is how far ahead of its rate
// the bucket admits (a burst of rate x admitBurst sends), so sends that arrive together within
// a tick's rate are not refused for their arrival order.
const (
	shedCap     = 900
	aimdCut     = 0.75
	aimdStep    = 0.05
	aimdMinStep = 25.0
	aimdOpen    = 1.2
	admitBurst  = 20 * time.Millisecond
)

// tickStats is what the controller sees of one janitor tick.
type tickStats struct {
	offered, admitted uint64        // sends offered (refused ones included) and admitted
	elapsed           time.Duration // the tick's length
	sched, publish    time.Duration // p99 of the scheduler's and of the publishes' latencies
}

// aimdLimits are the controller's settings.
type aimdLimits struct {
	sched, publish time.Duration // p99 limits; a publish limit of 0 ignores publishes
	minSends       uint64        // sends offered in a tick under which the gate is open
}

// aimd is the controller's state: the admitted sends a second (0: the gate is open), the busy
// ticks in a row that were late since the rate was last cut, and the on-time ticks in a row
// whose offered load the rate no longer bound. A cut waits for aimdConfirm late ticks: one is a
// blip (a collection, a neighbour's burst on the machine) that a quiet load rides out, while
// overload keeps every tick late; and the ticks after a cut still show the queue it is
// draining, so they are not taken for more load. The gate opens again only after aimdRelax
// slack ticks: a starved gateway reads fewer frames in a stalled tick (and a sender may pause),
// and opening on one such tick lets the whole backlog in at the next.
type aimd struct {
	rate        float64
	late, slack int
}

// aimdConfirm is the late busy ticks in a row that cut the rate, aimdRelax the slack ticks in
// a row that open the gate.
const (
	aimdConfirm = 2
	aimdRelax   = 10
)

// next is the controller: the state for the next tick after a tick with stats t.
func (a aimd) next(t tickStats, l aimdLimits) aimd {
	late := t.sched > l.sched || (l.publish > 0 && t.publish > l.publish)
	if t.elapsed <= 0 {
		return a // no interval to judge
	}
	if t.offered < l.minSends {
		if late && a.rate > 0 {
			return aimd{rate: a.rate} // a stall of a closed gate, not quiet: hold
		}
		return aimd{} // quiet: the load, late or not, is someone else's
	}
	secs := t.elapsed.Seconds()
	offered, admitted := float64(t.offered)/secs, float64(t.admitted)/secs
	floor := offered * (1000 - shedCap) / 1000
	switch {
	case late && a.late+1 < aimdConfirm:
		return aimd{rate: a.rate, late: a.late + 1} // hold: not late long enough to cut
	case late:
		base := admitted
		if a.rate > 0 {
			base = min(a.rate, admitted)
		}
		return aimd{rate: max(base*aimdCut, floor)}
	case a.rate == 0:
		return aimd{} // open and on time
	}
	next := aimd{rate: max(a.rate+max(a.rate*aimdStep, aimdMinStep), floor)}
	if next.rate > offered*aimdOpen {
		if next.slack = a.slack + 1; next.slack >= aimdRelax {
			return aimd{} // the bucket has not bound for a while
		}
	}
	return next
}

// gcra is the token bucket, as a generic cell rate algorithm over a theoretical arrival time:
// a send at now is admitted unless the bucket is more than burst ahead of now, and each
// admitted send moves it interval further. All times in nanoseconds of a monotonic clock.
func gcra(tat, now, interval, burst int64) (next int64, ok bool) {
	t := max(tat, now)
	if t-now > burst {
		return tat, false
	}
	return t + interval, true
}

// admission admits new sends; admit is called by every session, observe by the janitor.
type admission struct {
	limits aimdLimits // a sched limit of 0 turns admission off
	epoch  time.Time  // origin of the bucket's clock

	interval atomic.Int64  // nanoseconds between admitted sends; 0: open
	tat      atomic.Int64  // the bucket's theoretical arrival time
	offered  atomic.Uint64 // sends offered since the last tick, admitted or not
	admitted atomic.Uint64 // sends admitted since the last tick
	publish  latencies     // JetStream publish latencies since the last tick

	// Owned by observe (the janitor's goroutine), kept between ticks so a tick allocates
	// nothing.
	ctl         aimd
	last        time.Time
	sample      []metrics.Sample
	prev        []uint64 // the scheduler histogram's cumulative counts at the last tick
	schedCounts []uint64
	pubCounts   []uint64
}

func newAdmission(sched, publish time.Duration, minSends int) *admission {
	return &admission{limits: aimdLimits{sched: sched, publish: publish, minSends: uint64(max(minSends, 0))},
		epoch: time.Now(), sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
}

// admit reports whether a new send goes ahead.
func (a *admission) admit() bool {
	if a == nil || a.limits.sched <= 0 {
		return true
	}
	a.offered.Add(1)
	iv := a.interval.Load()
	if iv == 0 {
		a.admitted.Add(1)
		return true
	}
	now, burst := int64(time.Since(a.epoch)), max(int64(admitBurst), iv)
	for {
		tat := a.tat.Load()
		next, ok := gcra(tat, now, iv, burst)
		if !ok {
			return false
		}
		if a.tat.CompareAndSwap(tat, next) {
			a.admitted.Add(1)
			return true
		}
	}
}

// observePublish records a JetStream publish's latency (the wait for a slot included).
func (a *admission) observePublish(d time.Duration) {
	if a != nil {
		a.publish.observe(d)
	}
}

// observe closes a tick: it reads the latencies since the last call and sets the bucket's rate.
// It returns the share of the tick's sends that were refused (a gauge).
func (a *admission) observe(now time.Time) float64 {
	if a == nil || a.limits.sched <= 0 {
		return 0
	}
	t := tickStats{offered: a.offered.Swap(0), admitted: a.admitted.Swap(0), elapsed: now.Sub(a.last),
		sched: a.schedP99()}
	a.pubCounts = a.publish.take(a.pubCounts)
	t.publish = histQuantile(a.pubCounts, latencyBuckets[:], 0.99)
	if a.last.IsZero() {
		t.elapsed = 0 // the first tick: no interval yet
	}
	a.last = now
	a.ctl = a.ctl.next(t, a.limits)
	var iv int64
	if a.ctl.rate > 0 {
		iv = int64(float64(time.Second) / a.ctl.rate)
	}
	a.interval.Store(iv)
	if t.offered == 0 {
		return 0
	}
	return float64(t.offered-min(t.admitted, t.offered)) / float64(t.offered)
}

// schedP99 reads the scheduler's latency p99 since the last call; 0 on the first.
func (a *admission) schedP99() time.Duration {
	metrics.Read(a.sample)
	if a.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := a.sample[0].Value.Float64Histogram()
	a.schedCounts = append(a.schedCounts[:0], h.Counts...)
	if len(a.prev) == len(h.Counts) {
		for i, n := range h.Counts {
			a.schedCounts[i] = n - a.prev[i]
		}
	} else {
		clear(a.schedCounts)
	}
	a.prev = append(a.prev[:0], h.Counts...)
	return histQuantile(a.schedCounts, h.Buckets, 0.99)
}

// latencyBuckets are the bounds of latencies' buckets, in seconds (runtime/metrics' shape:
// bucket i spans latencyBuckets[i] to latencyBuckets[i+1]).
var latencyBuckets = [...]float64{0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, math.Inf(1)}

// latencies is a histogram of durations that many goroutines add to without a lock.
type latencies struct {
	counts [len(latencyBuckets) - 1]atomic.Uint64
}

func (l *latencies) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(l.counts)-1 && s > latencyBuckets[i+1] {
		i++
	}
	l.counts[i].Add(1)
}

// take returns the counts since the last take in dst's storage, and starts again from zero.
func (l *latencies) take(dst []uint64) []uint64 {
	dst = dst[:0]
	for i := range l.counts {
		dst = append(dst, l.counts[i].Swap(0))
	}
	return dst
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
