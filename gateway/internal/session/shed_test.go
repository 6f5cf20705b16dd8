package session

import (
	"context"
	"errors"
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
