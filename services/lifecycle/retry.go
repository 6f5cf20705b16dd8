package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// RetryUntil calls fn until it succeeds or ctx ends, backing off from 100 ms up to 5 s and
// logging each failure, so a dependency that is down at start (NATS, Postgres) delays the
// service instead of killing it. The error, when ctx ends first, wraps both fn's last error
// and ctx's. An error fn marks Permanent (anywhere in its chain) is returned at once:
// retrying cannot fix it (a configuration error).
func RetryUntil(ctx context.Context, log *zap.Logger, what string, fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if _, ok := errors.AsType[permanent](err); ok {
			return err
		}
		log.Warn(what+" failed; retrying", zap.Error(err), zap.Duration("in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// IgnoreCanceled returns nil when ctx has ended (an error caused by shutting down is not a
// failure) and err otherwise.
func IgnoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Permanent marks err (nil stays nil) as one that RetryUntil must not retry.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }
