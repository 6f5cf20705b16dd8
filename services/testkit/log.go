package testkit

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// guard forwards to a testing.TB until the test's cleanups have run, then drops everything:
// goroutines that log after their test ended (a watcher noticing its context ended, a server
// shutting down) would otherwise panic the whole test binary. Every goroutine has an owner
// that waits for it, and Main fails a binary whose goroutines outlive its tests (goleak), but
// a goroutine may still end a moment after the test whose logger it holds (a server's, a
// library's), which is no leak and must not panic.
type guard struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func newGuard(t testing.TB) *guard {
	g := &guard{t: t}
	// Registered first, so it runs after every cleanup registered later (they run LIFO) and
	// those cleanups may still log.
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.closed = true
	})
	return g
}

func (g *guard) logf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.t.Logf(format, args...)
	}
}

// Logf implements zaptest.TestingT.
func (g *guard) Logf(format string, args ...any) { g.logf(format, args...) }

// Errorf implements zaptest.TestingT: zap reports its own write errors here. After the test
// ended they are dropped like logs.
func (g *guard) Errorf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.t.Errorf(format, args...)
	}
}

// Fail implements zaptest.TestingT.
func (g *guard) Fail() { g.t.Fail() }

// FailNow implements zaptest.TestingT.
func (g *guard) FailNow() { g.t.FailNow() }

// Failed implements zaptest.TestingT.
func (g *guard) Failed() bool { return g.t.Failed() }

// Name implements zaptest.TestingT.
func (g *guard) Name() string { return g.t.Name() }

// Logger returns a debug-level zaptest logger writing to t. Unlike a bare zaptest.NewLogger,
// entries logged after the test ended (by goroutines still winding down) are dropped instead of
// panicking the test binary.
func Logger(t testing.TB) *zap.Logger {
	t.Helper()
	return zaptest.NewLogger(newGuard(t), zaptest.WrapOptions(zap.AddCaller()))
}

// CheckFor calls fn every `every` until it returns nil, failing the test with fn's last error
// if that does not happen within wait. Use it instead of sleeping.
func CheckFor(t testing.TB, wait, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testkit: condition not met after %s: %v", wait, err)
		}
		time.Sleep(every)
	}
}
