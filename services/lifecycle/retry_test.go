package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestRetryUntil(t *testing.T) {
	t.Parallel()
	down := errors.New("down")
	t.Run("succeeds after failures", func(t *testing.T) {
		t.Parallel()
		calls := 0
		err := lifecycle.RetryUntil(context.Background(), testkit.Logger(t), "dial", func() error {
			if calls++; calls < 3 {
				return down
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
	t.Run("returns a permanent error at once", func(t *testing.T) {
		t.Parallel()
		calls := 0
		err := lifecycle.RetryUntil(t.Context(), testkit.Logger(t), "load", func() error {
			calls++
			return fmt.Errorf("load: %w", lifecycle.Permanent(down))
		})
		if !errors.Is(err, down) || err.Error() != "load: down" || calls != 1 {
			t.Fatalf("err %v after %d calls, want fn's error after 1", err, calls)
		}
	})
	t.Run("gives up when ctx ends", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		err := lifecycle.RetryUntil(ctx, testkit.Logger(t), "dial", func() error { return down })
		if !errors.Is(err, down) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if lifecycle.IgnoreCanceled(ctx, err) != nil {
			t.Fatal("IgnoreCanceled kept an error after ctx ended")
		}
	})
	if err := lifecycle.IgnoreCanceled(context.Background(), down); !errors.Is(err, down) {
		t.Fatalf("IgnoreCanceled dropped a live error: %v", err)
	}
}
