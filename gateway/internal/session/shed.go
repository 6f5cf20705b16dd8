package session

// Overload shedding: a bounded window of JetStream publishes in flight per gateway. When the
// store cannot keep up, a frame that would wait behind the window is refused at once with
// `overloaded` instead of queueing without bound (a multi-second ack, then a timeout, with the
// memory of every waiting frame held meanwhile).

import (
	"context"
	"errors"
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
