package app

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestQuietWhileStopping: a vanished consumer is logged at debug while the gateway stops and
// passed on otherwise; other errors are always passed on.
func TestQuietWhileStopping(t *testing.T) {
	t.Parallel()
	nc := &nats.Conn{} // neither draining nor closed: only the stopping flag decides
	for _, tc := range []struct {
		name     string
		stopping bool
		err      error
		passed   bool
	}{
		{"consumer not found while stopping", true, fmt.Errorf("x: %w", nats.ErrConsumerNotFound), false},
		{"consumer deleted while stopping", true, nats.ErrConsumerDeleted, false},
		{"consumer not found while running", false, nats.ErrConsumerNotFound, true},
		{"slow consumer while stopping", true, nats.ErrSlowConsumer, true},
		{"other error", false, errors.New("boom"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			passed := false
			h := quietWhileStopping(func(*nats.Conn, *nats.Subscription, error) { passed = true },
				func() bool { return tc.stopping }, zap.New(core))
			h(nc, nil, tc.err)
			if passed != tc.passed {
				t.Fatalf("passed on = %v, want %v", passed, tc.passed)
			}
			for _, l := range logs.All() {
				if l.Level > zapcore.DebugLevel {
					t.Fatalf("logged %s: %s", l.Level, l.Message)
				}
			}
		})
	}
}
