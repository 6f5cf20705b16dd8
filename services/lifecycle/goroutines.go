package lifecycle

import (
	"context"
	"fmt"
	"sync"
)

// Background returns a context for parts that must outlive ctx (work in flight finishing
// after the signal): it keeps ctx's values but not its cancellation, and ends when Shutdown
// reaches the step name, pushed now. That step then waits, within the shutdown deadline, for
// every channel handed to the returned wait function to close: pass the Done channel of each
// goroutine started on the context (a watcher's, a task's), so none outlives the service.
func (s *Stack) Background(ctx context.Context, name string) (context.Context, func(done <-chan struct{})) {
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var (
		mu    sync.Mutex
		dones []<-chan struct{}
	)
	s.Push(name, func(ctx context.Context) error {
		cancel()
		mu.Lock()
		waits := dones
		mu.Unlock()
		for _, done := range waits {
			select {
			case <-done:
			case <-ctx.Done():
				return fmt.Errorf("still running: %w", ctx.Err())
			}
		}
		return nil
	})
	return bctx, func(done <-chan struct{}) {
		if done == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		dones = append(dones, done)
	}
}

// Go runs fn in a goroutine owned by the stack: fn's context keeps ctx's values but not its
// cancellation and ends when Shutdown reaches the step name (in reverse push order, like every
// step), which then waits for fn to return. fn's error is not logged or returned by Shutdown:
// whoever cares watches the returned Task, so the error is handled once.
func (s *Stack) Go(ctx context.Context, name string, fn func(context.Context) error) *Task {
	gctx, wait := s.Background(ctx, name)
	t := &Task{done: make(chan struct{})}
	wait(t.done)
	go func() {
		defer close(t.done)
		t.err = fn(gctx)
	}()
	return t
}

// Task is a goroutine started by Stack.Go.
type Task struct {
	done chan struct{}
	err  error
}

// Done is closed when the goroutine has returned.
func (t *Task) Done() <-chan struct{} { return t.done }

// Err is what the goroutine returned, valid once Done is closed (nil before).
func (t *Task) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}
