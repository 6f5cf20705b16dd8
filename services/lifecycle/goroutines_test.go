package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
)

type ctxKey struct{}

func TestStackGo(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // after the parallel subtests, not when this function returns
	cases := []struct {
		name string
		// fn is the goroutine; it sees the start context cancelled before shutdown.
		fn       func(ctx context.Context) error
		earlyErr error // what Task.Err holds before shutdown (the goroutine returned on its own)
		wantErr  error // what Shutdown returns
		wantRes  error // what Task.Err holds after shutdown
	}{
		{
			name:    "returns when stopped",
			fn:      func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			wantRes: context.Canceled,
		},
		{
			name:     "returned early with an error",
			fn:       func(context.Context) error { return boom },
			earlyErr: boom,
			wantRes:  boom,
		},
		{
			name:    "outlives the deadline",
			fn:      func(context.Context) error { <-release; return nil },
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				s     lifecycle.Stack
				mu    sync.Mutex
				order []string
			)
			note := func(name string) {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, name)
			}
			s.Push("before", func(context.Context) error { note("before"); return nil })
			ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
			sawValue := make(chan bool, 1)
			task := s.Go(ctx, "task", func(ctx context.Context) error {
				sawValue <- ctx.Value(ctxKey{}) == "v"
				err := tc.fn(ctx)
				note("task returned")
				return err
			})
			s.Push("after", func(context.Context) error { note("after"); return nil })
			if !<-sawValue {
				t.Error("the goroutine's context lost the start context's values")
			}
			cancel() // the start context ending does not stop the goroutine
			if tc.earlyErr != nil {
				<-task.Done()
				if !errors.Is(task.Err(), tc.earlyErr) {
					t.Fatalf("early Err = %v, want %v", task.Err(), tc.earlyErr)
				}
			} else if err := task.Err(); err != nil {
				t.Fatalf("Err before shutdown = %v", err)
			}

			err := s.Shutdown(context.Background(), 200*time.Millisecond)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Shutdown = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return // still running: order and result are not settled
			}
			if !errors.Is(task.Err(), tc.wantRes) {
				t.Fatalf("Err after shutdown = %v, want %v", task.Err(), tc.wantRes)
			}
			// Stopped in reverse push order, and waited for before the next step.
			want := []string{"after", "task returned", "before"}
			if tc.earlyErr != nil {
				want = []string{"task returned", "after", "before"}
			}
			if !slices.Equal(order, want) {
				t.Fatalf("order = %v, want %v", order, want)
			}
		})
	}
}

func TestStackBackground(t *testing.T) {
	t.Parallel()
	var s lifecycle.Stack
	ctx, cancel := context.WithCancel(context.Background())
	bctx, wait := s.Background(ctx, "watchers")
	wait(nil) // a part that started nothing
	done := make(chan struct{})
	stopped := false
	go func() {
		<-bctx.Done()
		time.Sleep(10 * time.Millisecond) // winding down takes a moment: Shutdown must wait
		stopped = true
		close(done)
	}()
	wait(done)
	cancel()
	if bctx.Err() != nil {
		t.Fatal("the background context ended with the start context")
	}
	if err := s.Shutdown(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !stopped {
		t.Fatal("Shutdown returned before the watcher stopped")
	}
}
