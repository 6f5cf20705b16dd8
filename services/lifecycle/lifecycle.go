// Package lifecycle stops a service's parts in order under one deadline.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Stack holds the stop functions of a service's parts. Push each part right after starting
// it; Shutdown stops them in reverse order, so what started last (the listener taking
// traffic) stops first and what everything depends on (the NATS connection) stops last.
// The zero value is usable and logs nothing; NewStack adds a logger. Safe for concurrent use.
type Stack struct {
	log   *zap.Logger
	mu    sync.Mutex
	steps []step
}

type step struct {
	name string
	stop func(context.Context) error
}

// NewStack returns an empty Stack that logs each step to log.
func NewStack(log *zap.Logger) *Stack {
	return &Stack{log: log}
}

// Push adds a part to stop. stop receives the shutdown context and should return when done or
// when the context ends, whichever comes first.
func (s *Stack) Push(name string, stop func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step{name: name, stop: stop})
}

// Shutdown stops every pushed part in reverse push order under one deadline of timeout. ctx's
// cancellation is ignored (Shutdown usually runs because ctx, the signal context, just
// ended) but its values are kept. A step still runs after the deadline passed, with an
// expired context, so it can release its resources quickly. The result joins every step's
// error, each prefixed with the step name. Parts pushed are stopped once: a second Shutdown
// only stops what was pushed since.
func (s *Stack) Shutdown(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()

	log := s.log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()

	start := time.Now()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		t0 := time.Now()
		err := st.stop(ctx)
		fields := []zap.Field{zap.String("step", st.name), zap.Duration("took", time.Since(t0))}
		if err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", st.name, err))
			log.Warn("shutdown step failed", append(fields, zap.Error(err))...)
			continue
		}
		log.Info("shutdown step done", fields...)
	}
	err := errors.Join(errs...)
	log.Info("shutdown complete", zap.Duration("took", time.Since(start)), zap.Bool("clean", err == nil))
	return err
}

// Run runs fns concurrently with a context that ends when ctx ends or any fn returns an error,
// waits for all of them, and returns the first error (nil when all returned nil). A fn
// returning nil does not stop the others. The error is returned, not logged; log only notes
// that the others are being stopped.
func Run(ctx context.Context, log *zap.Logger, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				once.Do(func() {
					first = err
					if log != nil {
						log.Info("a component failed, stopping the others")
					}
				})
				cancel(err)
			}
		})
	}
	wg.Wait()
	return first
}
