package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// fakeClock hands out timers that fire only when the test says so; its time never passes
// by itself.
type fakeClock struct {
	mu     sync.Mutex
	timers []chan time.Time
}

func (f *fakeClock) After(time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	f.timers = append(f.timers, ch)
	return ch
}

// armed is the number of timers handed out and not fired.
func (f *fakeClock) armed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// waitArmed waits until n timers are armed and not fired (a worker holds a batch on its wait).
func (f *fakeClock) waitArmed(t *testing.T, n int) {
	t.Helper()
	testkit.CheckFor(t, 30*time.Second, 5*time.Millisecond, func() error {
		if got := f.armed(); got != n {
			return fmt.Errorf("%d timers armed, want %d", got, n)
		}
		return nil
	})
}

// fire fires every armed timer.
func (f *fakeClock) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.timers {
		ch <- time.Now()
	}
	f.timers = nil
}

// startConsumer runs a messages consumer with opt until the test ends.
func (e *env) startConsumer(t *testing.T, opt ingest.Options, write func(context.Context, []store.MessageRow) (store.WriteResult, error)) *ingest.Consumer[store.MessageRow] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := ingest.NewConsumer(e.js, opt, ingest.Handler[store.MessageRow]{Decode: ingest.DecodeMessage, Write: write}, e.met, testkit.Logger(t))
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// A lone message is committed without a timer: with a batch of 10,000 and a clock that
// never moves, the message is written at once (group commit), and no timer was even
// armed. With a batch wait the same message is held until the clock fires, which shows
// the wait goes through the clock: the first case would hang if a timer stood in its way.
func TestLoneMessageCommittedWithoutTimer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wait time.Duration
	}{
		{"group commit", 0},
		{"batch wait of an hour", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			clock := &fakeClock{}
			var writes atomic.Int32
			opt := e.options()
			// AckWait is long enough that nothing is redelivered while the test holds a batch.
			opt.BatchSize, opt.MaxAckPending, opt.BatchWait, opt.After = 10000, 20000, tt.wait, clock.After
			opt.AckWait = time.Minute
			e.startConsumer(t, opt, func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
				writes.Add(1)
				return e.st.WriteMessages(ctx, rows)
			})
			e.publish(t, message("c1", 1), "lone")
			if tt.wait > 0 {
				// The worker holds the message and waits on its timer: nothing is written
				// until the clock fires.
				clock.waitArmed(t, 1)
				if rows, _ := e.count(t); rows != 0 || writes.Load() != 0 {
					t.Fatalf("%d rows in %d writes before the wait expired", rows, writes.Load())
				}
				clock.fire()
			}
			e.waitRows(t, 1)
			if n := clock.armed(); n != 0 {
				t.Fatalf("%d timers left armed", n)
			}
			if w := writes.Load(); w != 1 {
				t.Fatalf("%d writes, want 1", w)
			}
		})
	}
}

// The messages that arrive while a transaction commits are the next batch, written as soon
// as it committed: all of them in one transaction, up to the batch size.
func TestGroupCommitTakesWhatArrived(t *testing.T) {
	t.Parallel()
	const batch = 200
	tests := []struct {
		name string
		// arrive is how many messages are published while the first batch commits.
		arrive int
		// next is the size of the batch written right after it.
		next int
	}{
		{"a few", 50, 50},
		{"more than a batch", 450, batch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			release := make(chan struct{})
			started := make(chan struct{})
			var (
				mu    sync.Mutex
				sizes []int
			)
			opt := e.options()
			opt.BatchSize, opt.Workers, opt.AckWait = batch, 1, time.Minute
			c := e.startConsumer(t, opt, func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
				mu.Lock()
				sizes = append(sizes, len(rows))
				first := len(sizes) == 1
				mu.Unlock()
				if first {
					close(started)
					select {
					case <-release:
					case <-ctx.Done():
						return store.WriteResult{}, ctx.Err()
					}
				}
				return e.st.WriteMessages(ctx, rows)
			})
			e.publish(t, message("c1", 0), "first")
			<-started
			e.publishMany(t, "c1", 1, 1+tt.arrive)
			// Everything that fits in a batch has reached the worker before the commit ends.
			testkit.CheckFor(t, 30*time.Second, 5*time.Millisecond, func() error {
				if n := ingest.Queued(c); n != tt.next {
					return fmt.Errorf("%d messages queued, want %d", n, tt.next)
				}
				return nil
			})
			close(release)
			e.waitRows(t, 1+tt.arrive)
			mu.Lock()
			defer mu.Unlock()
			if sizes[0] != 1 || sizes[1] != tt.next {
				t.Fatalf("batches %v: want 1 then %d", sizes, tt.next)
			}
			sum := 0
			for _, n := range sizes {
				if n > batch {
					t.Fatalf("batches %v: one larger than %d", sizes, batch)
				}
				sum += n
			}
			if sum != 1+tt.arrive {
				t.Fatalf("batches %v hold %d messages, want %d", sizes, sum, 1+tt.arrive)
			}
		})
	}
}

// Two workers never write partial batches at the same time: at moderate rates the second
// one gathers what arrives while the first commits. Publishing one message at a time, fewer
// than a batch in all, every batch is partial, so no two writes may overlap (unless a
// commit took AckWait/3, a minute here).
func TestOnePartialBatchInFlight(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var inFlight, most atomic.Int32
	opt := e.options()
	// A worker waits for the turn at most AckWait/3 (then writes alone): long enough here
	// for any commit on a loaded machine;
	// and a batch needs the turn below 10000/16 messages, more than all of them.
	opt.BatchSize, opt.MaxAckPending, opt.Workers, opt.AckWait = 10000, 20000, 2, time.Minute
	e.startConsumer(t, opt, func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		return e.st.WriteMessages(ctx, rows)
	})
	const n = 300
	for i := range n {
		e.publish(t, message("c1", i), fmt.Sprint("m", i))
	}
	e.waitRows(t, n)
	if m := most.Load(); m != 1 {
		t.Fatalf("%d partial batches were written at once", m)
	}
}

// A batch that holds BatchFill messages stops waiting: with a batch wait of an hour on a clock
// that never moves, two messages are held, and the third makes the batch full enough to be
// written at once, all three in one transaction.
func TestBatchFillEndsTheWait(t *testing.T) {
	t.Parallel()
	e := setup(t)
	clock := &fakeClock{}
	var writes atomic.Int32
	opt := e.options()
	opt.BatchSize, opt.MaxAckPending, opt.Workers, opt.AckWait = 10000, 20000, 1, time.Minute
	opt.BatchWait, opt.BatchFill, opt.After = time.Hour, 3, clock.After
	e.startConsumer(t, opt, func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
		writes.Add(1)
		return e.st.WriteMessages(ctx, rows)
	})
	e.publish(t, message("c1", 0), "m0")
	e.publish(t, message("c1", 1), "m1")
	clock.waitArmed(t, 1)
	if rows, _ := e.count(t); rows != 0 || writes.Load() != 0 {
		t.Fatalf("%d rows in %d writes with two messages of a fill of three", rows, writes.Load())
	}
	e.publish(t, message("c1", 2), "m2")
	e.waitRows(t, 3)
	if w := writes.Load(); w != 1 {
		t.Fatalf("%d writes, want 1", w)
	}
}
