package app_test

import (
	"fmt"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestCleanShutdown: a gateway stopped while sessions follow conversations (and just replayed
// them) logs no error: consumers that end with the connection's drain are not failures.
func TestCleanShutdown(t *testing.T) {
	t.Parallel()
	for i := range 3 {
		t.Run(fmt.Sprint("run", i), func(t *testing.T) {
			t.Parallel()
			e := apptest.NewEnv(t)
			core, logs := observer.New(zapcore.WarnLevel)
			e.Log = zap.New(zapcore.NewTee(testkit.Logger(t).Core(), core))
			g := e.Gateway()
			cust, ag, conv := setup(t, e, g, "acme", "sd1", "sda")
			for j := range 5 {
				cust.Send(apptest.Text(fmt.Sprint("m", j), conv, "hello"))
				ag.Await(frames.TypeMessage, hasIDClient(fmt.Sprint("m", j)))
			}
			// Replays leave ordered consumers behind them as the gateway stops.
			cust.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "s1", Conv: conv})
			ag.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "s2", Conv: conv})
			cust.Await(frames.TypeSynced, apptest.HasID("s1"))
			g.Stop()
			for _, l := range logs.All() {
				if l.Level >= zapcore.ErrorLevel {
					t.Errorf("logged at shutdown: %s %s %v", l.Level, l.Message, l.ContextMap())
				}
			}
		})
	}
}
