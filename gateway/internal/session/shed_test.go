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

// TestNextDrop: the share refused rises by a tenth a tick while the scheduler is late and the
// gateway busy, up to the cap, and halves otherwise, down to nothing.
func TestNextDrop(t *testing.T) {
	t.Parallel()
	limit := 20 * time.Millisecond
	tests := []struct {
		name string
		drop uint32
		p99  time.Duration
		busy bool
		want uint32
	}{
		{"healthy stays open", 0, time.Millisecond, true, 0},
		{"late and busy starts shedding", 0, 50 * time.Millisecond, true, 100},
		{"late and busy sheds more", 300, 50 * time.Millisecond, true, 400},
		{"never past the cap", shedCap, time.Second, true, shedCap},
		{"late but quiet: the load is someone else's", 400, time.Second, false, 200},
		{"at the limit is not over it", 400, limit, true, 200},
		{"back under the limit halves", 801, time.Millisecond, true, 400},
		{"down to nothing", 1, 0, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := nextDrop(tc.drop, tc.p99, limit, tc.busy); got != tc.want {
				t.Fatalf("nextDrop(%d, %s, busy %v) = %d, want %d", tc.drop, tc.p99, tc.busy, got, tc.want)
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

// TestCPUShedAdmits: off or with nothing to shed, every message goes ahead; at the cap about
// nine in ten are refused, and every send counts as offered; observe keeps working on the real
// runtime histogram.
func TestCPUShedAdmits(t *testing.T) {
	t.Parallel()
	var off *cpuShed
	if !off.admit() || !newCPUShed(0, 0).admit() {
		t.Fatal("shedding off refused a message")
	}
	c := newCPUShed(time.Hour, 1)
	for range 1000 {
		if !c.admit() {
			t.Fatal("refused with nothing to shed")
		}
	}
	c.observe() // the first reading only sets the baseline
	c.observe()
	if d := c.drop.Load(); d != 0 {
		t.Fatalf("a scheduler an hour from the limit gave drop %d", d)
	}
	c.drop.Store(shedCap)
	refused := 0
	for range 10000 {
		if !c.admit() {
			refused++
		}
	}
	if refused < 8500 || refused > 9500 {
		t.Fatalf("at the cap %d of 10000 refused, want about 9000", refused)
	}
	// Refused sends count as offered: the gateway is as busy as before it shed, so the share
	// holds while the latency stays high instead of swinging back down.
	if n := c.offered.Load(); n != 10000 {
		t.Fatalf("offered %d after 10000 sends, want 10000", n)
	}
}
