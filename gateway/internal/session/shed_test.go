package session

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// TestPublishWindow: the window lets in as many publishes as it has slots, refuses the next
// one with errOverloaded after its wait (not before, not much later), and takes one again as
// soon as a slot is released.
func TestPublishWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		slots int
		wait  time.Duration
	}{
		{"one slot", 1, 5 * time.Millisecond},
		{"several slots", 4, 20 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newPublishWindow(tc.slots, tc.wait)
			ctx := context.Background()
			for range tc.slots {
				if err := w.acquire(ctx); err != nil {
					t.Fatal(err)
				}
			}
			t0 := time.Now()
			if err := w.acquire(ctx); !errors.Is(err, errOverloaded) {
				t.Fatalf("acquire on a full window = %v, want errOverloaded", err)
			}
			if took := time.Since(t0); took < tc.wait {
				t.Fatalf("refused after %s, before the wait of %s", took, tc.wait)
			}
			w.release()
			if err := w.acquire(ctx); err != nil {
				t.Fatalf("acquire after a release = %v", err)
			}
			if w.inFlight() != tc.slots {
				t.Fatalf("in flight = %d, want %d", w.inFlight(), tc.slots)
			}
			// A context that ends first refuses too.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := w.acquire(cctx); !errors.Is(err, errOverloaded) {
				t.Fatalf("acquire with a done context = %v", err)
			}
		})
	}
}

// TestAIMD: the controller cuts the rate to a fraction of what was admitted once busy ticks have
// been late aimdConfirm times in a row (a lone late tick only stops its growth), grows it step
// by step when on time, opens the gate once it has not bound for aimdRelax ticks, never refuses
// more than shedCap of what is offered, never closes on a quiet gateway, however late the
// machine is, and does not take a stalled tick of a closed gate for a quiet one.
func TestAIMD(t *testing.T) {
	t.Parallel()
	lim := aimdLimits{sched: 20 * time.Millisecond, publish: 20 * time.Millisecond, minSends: 100}
	tick := 100 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		name string
		lim  aimdLimits
		from aimd
		t    tickStats
		want aimd
	}{
		{"open and on time stays open", lim, aimd{}, tickStats{offered: 500, admitted: 500, elapsed: tick, sched: ms, publish: ms}, aimd{}},
		{"one late tick is a blip", lim, aimd{}, tickStats{offered: 500, admitted: 500, elapsed: tick, sched: 50 * ms}, aimd{late: 1}},
		{"a second late scheduler tick closes at a cut of the admitted rate", lim, aimd{late: 1}, tickStats{offered: 500, admitted: 400, elapsed: tick, sched: 50 * ms}, aimd{rate: 3000}},
		{"late publishes close too", lim, aimd{late: 1}, tickStats{offered: 500, admitted: 400, elapsed: tick, sched: ms, publish: 50 * ms}, aimd{rate: 3000}},
		{"publishes ignored with no limit", aimdLimits{sched: 20 * ms, minSends: 100}, aimd{late: 1}, tickStats{offered: 500, admitted: 400, elapsed: tick, sched: ms, publish: time.Second}, aimd{}},
		{"the tick after a cut holds the rate", lim, aimd{rate: 3000}, tickStats{offered: 500, admitted: 300, elapsed: tick, sched: 50 * ms}, aimd{rate: 3000, late: 1}},
		{"late again cuts from the lower of rate and admitted", lim, aimd{rate: 3000, late: 1}, tickStats{offered: 500, admitted: 200, elapsed: tick, sched: 50 * ms}, aimd{rate: 1500}},
		{"on time grows by a step and forgets a late tick", lim, aimd{rate: 2000, late: 1}, tickStats{offered: 500, admitted: 200, elapsed: tick, sched: ms}, aimd{rate: 2100}},
		{"small rates grow by the least step", lim, aimd{rate: 400}, tickStats{offered: 300, admitted: 40, elapsed: tick, sched: ms}, aimd{rate: 425}},
		{"well above the offered rate counts a slack tick", lim, aimd{rate: 5800}, tickStats{offered: 500, admitted: 500, elapsed: tick, sched: ms}, aimd{rate: 6090, slack: 1}},
		{"opens after aimdRelax slack ticks", lim, aimd{rate: 5800, slack: aimdRelax - 1}, tickStats{offered: 500, admitted: 500, elapsed: tick, sched: ms}, aimd{}},
		{"a binding tick forgets the slack ones", lim, aimd{rate: 2000, slack: aimdRelax - 1}, tickStats{offered: 500, admitted: 200, elapsed: tick, sched: ms}, aimd{rate: 2100}},
		{"never under a tenth of the offered rate", lim, aimd{rate: 1100, late: 1}, tickStats{offered: 1000, admitted: 110, elapsed: tick, sched: time.Second}, aimd{rate: 1000}},
		{"late but quiet: the load is someone else's", lim, aimd{late: 1}, tickStats{offered: 99, admitted: 99, elapsed: tick, sched: time.Second, publish: time.Second}, aimd{}},
		{"quiet and on time opens a closed gate", lim, aimd{rate: 500, late: 1}, tickStats{offered: 99, admitted: 50, elapsed: tick, sched: ms}, aimd{}},
		{"a closed gate's stalled tick holds, not taken for quiet", lim, aimd{rate: 500, late: 1}, tickStats{offered: 20, admitted: 20, elapsed: tick, sched: time.Second}, aimd{rate: 500}},
		{"at the limit is not over it", lim, aimd{rate: 2000, late: 1}, tickStats{offered: 500, admitted: 200, elapsed: tick, sched: 20 * ms, publish: 20 * ms}, aimd{rate: 2100}},
		{"no interval: unchanged", lim, aimd{rate: 700, late: 1}, tickStats{offered: 500, admitted: 500, sched: time.Second}, aimd{rate: 700, late: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.from.next(tc.t, tc.lim)
			if math.Abs(got.rate-tc.want.rate) > 1e-6 || got.late != tc.want.late || got.slack != tc.want.slack {
				t.Fatalf("%+v.next(%+v) = %+v, want %+v", tc.from, tc.t, got, tc.want)
			}
		})
	}
}

// TestAIMDSettles drives the controller with a plant that is late whenever it is given more than
// it carries: the admitted rate ends near what it carries (not at the offered load, not at the
// floor) and every tick after the first stays under the offered load.
func TestAIMDSettles(t *testing.T) {
	t.Parallel()
	lim := aimdLimits{sched: 20 * time.Millisecond, minSends: 100}
	const offered, carries = 7500.0, 1750.0
	tick := 100 * time.Millisecond
	var a aimd
	var sum float64
	const ticks, tail = 600, 300
	for i := range ticks {
		admitted := offered
		if a.rate > 0 {
			admitted = min(a.rate, offered)
		}
		late := 0 * time.Millisecond
		if admitted > carries {
			late = 100 * time.Millisecond
		}
		a = a.next(tickStats{offered: uint64(offered / 10), admitted: uint64(admitted / 10), elapsed: tick, sched: late}, lim)
		if i > 0 && a.rate == 0 {
			t.Fatalf("tick %d: the gate opened under a load %.0f times what the plant carries", i, offered/carries)
		}
		if i >= ticks-tail {
			sum += min(a.rate, offered)
		}
	}
	if mean := sum / tail; mean < 0.7*carries || mean > carries*1.05 {
		t.Fatalf("mean admitted rate %.0f/s over the last %d ticks, want about %.0f", mean, tail, carries)
	}
}

// TestGCRA: the bucket admits at its rate with bursts up to its tolerance, refuses beyond it
// without moving, and keeps no credit from an idle spell.
func TestGCRA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		tat, now        int64
		interval, burst int64
		wantTat         int64
		wantOK          bool
	}{
		{"idle bucket admits from now", 0, 1000, 10, 50, 1010, true},
		{"idle spell gives no credit", 100, 1000, 10, 50, 1010, true},
		{"ahead within the burst admits", 1040, 1000, 10, 50, 1050, true},
		{"ahead by exactly the burst admits", 1050, 1000, 10, 50, 1060, true},
		{"ahead beyond the burst refuses and stays", 1051, 1000, 10, 50, 1051, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := gcra(tc.tat, tc.now, tc.interval, tc.burst)
			if got != tc.wantTat || ok != tc.wantOK {
				t.Fatalf("gcra = %d, %v; want %d, %v", got, ok, tc.wantTat, tc.wantOK)
			}
		})
	}
}

// TestHistQuantile reads quantiles of runtime/metrics-shaped histograms (bucket i spans
// buckets[i] to buckets[i+1]).
func TestHistQuantile(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	buckets := []float64{0, 0.001, 0.01, 0.1, inf}
	tests := []struct {
		name   string
		counts []uint64
		q      float64
		want   time.Duration
	}{
		{"no counts", []uint64{0, 0, 0, 0}, 0.99, 0},
		{"all fast", []uint64{1000, 0, 0, 0}, 0.99, time.Millisecond},
		{"exactly 1% slow leaves the p99 fast", []uint64{990, 0, 10, 0}, 0.99, time.Millisecond},
		{"over 1% slow is the p99's bucket", []uint64{989, 11, 0, 0}, 0.99, 10 * time.Millisecond},
		{"slower ones move it further", []uint64{980, 0, 20, 0}, 0.99, 100 * time.Millisecond},
		{"the unbounded bucket gives its lower bound", []uint64{0, 0, 0, 5}, 0.5, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := histQuantile(tc.counts, buckets, tc.q); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestAdmission: off, open or quiet, every message goes ahead and is counted; closed at a rate,
// a burst of sends at one instant gets about the bucket's burst through and the rest refused,
// all counted as offered; observe reads the real runtime histogram without closing the gate of
// a gateway that is sent nothing.
func TestAdmission(t *testing.T) {
	t.Parallel()
	var off *admission
	if !off.admit() || !newAdmission(0, 0, 0).admit() {
		t.Fatal("admission off refused a message")
	}
	a := newAdmission(time.Hour, time.Hour, 1)
	for range 1000 {
		if !a.admit() {
			t.Fatal("refused with the gate open")
		}
	}
	t0 := time.Now()
	a.observe(t0) // the first tick only sets the baseline
	if share := a.observe(t0.Add(100 * time.Millisecond)); share != 0 || a.interval.Load() != 0 {
		t.Fatalf("on time: refused share %v, interval %d; want an open gate", share, a.interval.Load())
	}
	// Closed at 1,000 a second (1 ms apart), a burst at once gets through what the bucket
	// holds, admitBurst's worth, and no more (the test takes far less than admitBurst per send,
	// but on a slow machine time passes: allow what the elapsed time admits).
	a.interval.Store(int64(time.Millisecond))
	start := time.Now()
	admitted := 0
	const sends = 1000
	for range sends {
		if a.admit() {
			admitted++
		}
	}
	most := int(admitBurst/time.Millisecond) + 1 + int(time.Since(start)/time.Millisecond) + 1
	if admitted < int(admitBurst/time.Millisecond) || admitted > most {
		t.Fatalf("a burst of %d at 1,000/s admitted %d, want %d to %d", sends, admitted, admitBurst/time.Millisecond, most)
	}
	if n, m := a.offered.Load(), a.admitted.Load(); n != sends || m != uint64(admitted) {
		t.Fatalf("counted %d offered, %d admitted; want %d, %d", n, m, sends, admitted)
	}
	if share := a.observe(t0.Add(200 * time.Millisecond)); share < 0.5 || share > 1 {
		t.Fatalf("refused share of the tick %v, want most of it", share)
	}
}

// TestLatencies: the publish histogram puts each latency in the bucket whose upper bound it
// does not pass, and take empties it.
func TestLatencies(t *testing.T) {
	t.Parallel()
	var l latencies
	for _, d := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 30 * time.Millisecond, 2 * time.Second} {
		l.observe(d)
	}
	got := l.take(nil)
	want := []uint64{2, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1}
	if len(got) != len(want) {
		t.Fatalf("%d buckets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("counts %v, want %v", got, want)
		}
	}
	if p := histQuantile(got, latencyBuckets[:], 0.5); p != 5*time.Millisecond {
		t.Fatalf("median %s, want 5ms", p)
	}
	if again := l.take(got); histQuantile(again, latencyBuckets[:], 0.99) != 0 {
		t.Fatalf("take left counts %v", again)
	}
}
