package convo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ErrFenced is the cancellation cause of a guarded context whose conversation changed (state or
// owner) after the reply started: the reply must be dropped.
var ErrFenced = errors.New("conversation changed hands")

// Fence watches the conversations bucket and cancels the replies in flight on a conversation as
// soon as its revision moves past the one they started under. It is the early half of fencing:
// partial text stops at once when an agent takes over. The final re-read before publishing (the
// contract's rule) is the other half, and the one that guarantees nothing late is stored.
//
// Every replica watches every conversation update. Those are control-plane writes (a handful
// per conversation), far fewer than messages.
type Fence struct {
	log *zap.Logger

	mu     sync.Mutex
	latest map[string]uint64 // last revision seen per key, for keys with guards or recent updates
	guards map[string]map[*guard]struct{}
	ready  chan struct{}
	err    error
}

type guard struct {
	rev    uint64
	cancel context.CancelCauseFunc
}

// maxLatest bounds the remembered revisions of keys without guards; beyond it the map is
// cleared (it only closes the short window between reading a state and guarding it).
const maxLatest = 100_000

// NewFence returns a fence; Run feeds it.
func NewFence(log *zap.Logger) *Fence {
	return &Fence{log: log, latest: map[string]uint64{}, guards: map[string]map[*guard]struct{}{},
		ready: make(chan struct{})}
}

// Run watches kv until ctx ends. It returns the watch error, or nil when ctx ended.
func (f *Fence) Run(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		close(f.ready)
		return fmt.Errorf("watch conversations: %w", err)
	}
	defer func() { _ = w.Stop() }()
	close(f.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil { // end of the initial values; UpdatesOnly sends none
				continue
			}
			f.observe(e.Key(), e.Revision())
		}
	}
}

// Ready is closed once the watch is established.
func (f *Fence) Ready() <-chan struct{} { return f.ready }

func (f *Fence) observe(key string, rev uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.latest) >= maxLatest {
		clear(f.latest)
	}
	if rev > f.latest[key] {
		f.latest[key] = rev
	}
	for g := range f.guards[key] {
		if rev > g.rev {
			g.cancel(ErrFenced)
			delete(f.guards[key], g)
		}
	}
	if len(f.guards[key]) == 0 {
		delete(f.guards, key)
	}
}

// Guard returns a context derived from ctx that is cancelled with cause ErrFenced when the
// conversation at key moves past revision rev, and a release function to call when the reply is
// done. If the fence already saw a newer revision, the context is cancelled at once.
func (f *Fence) Guard(ctx context.Context, key string, rev uint64) (context.Context, func()) {
	gctx, cancel := context.WithCancelCause(ctx)
	g := &guard{rev: rev, cancel: cancel}
	f.mu.Lock()
	if f.latest[key] > rev {
		cancel(ErrFenced)
	} else {
		if f.guards[key] == nil {
			f.guards[key] = map[*guard]struct{}{}
		}
		f.guards[key][g] = struct{}{}
	}
	f.mu.Unlock()
	return gctx, func() {
		f.mu.Lock()
		if gs := f.guards[key]; gs != nil {
			delete(gs, g)
			if len(gs) == 0 {
				delete(f.guards, key)
			}
		}
		f.mu.Unlock()
		cancel(context.Canceled)
	}
}

// Fenced reports whether ctx (from Guard) was cancelled because the conversation changed.
func Fenced(ctx context.Context) bool { return errors.Is(context.Cause(ctx), ErrFenced) }
