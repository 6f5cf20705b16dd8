package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestStackOrderAndErrors(t *testing.T) {
	t.Parallel()
	s := lifecycle.NewStack(testkit.Logger(t))
	var (
		mu    sync.Mutex
		order []string
	)
	step := func(name string, err error) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return err
		}
	}
	errNATS := errors.New("drain failed")
	s.Push("nats", step("nats", errNATS))
	s.Push("consumer", step("consumer", nil))
	s.Push("http", step("http", nil))

	// Shutdown runs after the signal context ended; steps must still get a live context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx, time.Second)
	if !errors.Is(err, errNATS) {
		t.Fatalf("err = %v, want it to wrap %v", err, errNATS)
	}
	if want := []string{"http", "consumer", "nats"}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	// Already stopped parts are not stopped again.
	if err := s.Shutdown(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 {
		t.Fatalf("second shutdown re-ran steps: %v", order)
	}
}

func TestStackDeadline(t *testing.T) {
	t.Parallel()
	var s lifecycle.Stack // the zero value works
	var lastRan bool
	s.Push("last", func(ctx context.Context) error {
		lastRan = true
		if ctx.Err() == nil {
			t.Error("the deadline should have passed")
		}
		return nil
	})
	s.Push("stuck", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	err := s.Shutdown(context.Background(), 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !lastRan {
		t.Fatalf("err = %v, lastRan = %v", err, lastRan)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("shutdown took %s", d)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err := lifecycle.Run(context.Background(), testkit.Logger(t),
		func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil },
		func(context.Context) error { return nil },
		func(context.Context) error { return boom },
	)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other function was not stopped")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lifecycle.Run(ctx, nil, func(ctx context.Context) error { <-ctx.Done(); return nil }); err != nil {
		t.Fatal(err)
	}
}
