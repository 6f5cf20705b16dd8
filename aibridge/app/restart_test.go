package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// TestNATSRestart: the bridge keeps answering, and keeps fencing, after the NATS server
// restarts under it.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	srv := llmtest.New(t, func(n int, req llmtest.Request) llmtest.Response {
		if req.Messages[len(req.Messages)-1].Content == "hold" {
			return llmtest.Response{Chunks: []string{"thinking "}, Hold: hold}
		}
		return llmtest.Text("ok")
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	answered := func(conv string, n int) {
		t.Helper()
		testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
			if got := len(h.botMessages("acme", conv)); got != n {
				return fmt.Errorf("%s: %d bot messages, want %d", conv, got, n)
			}
			return nil
		})
	}
	h.openConversation("acme", "c1", frames.StateBot)
	h.customer("acme", "c1", "before")
	answered("c1", 1)

	h.nats.Restart(t)
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, h.ready)
	h.openConversation("acme", "c2", frames.StateBot)
	h.customer("acme", "c2", "after")
	answered("c2", 1)

	// The fence watcher is back too: a takeover still stops a reply in flight.
	h.openConversation("acme", "c3", frames.StateBot)
	l := h.watchLive("acme", "c3")
	h.customer("acme", "c3", "hold")
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if len(l.all()) == 0 {
			return fmt.Errorf("no partial yet")
		}
		return nil
	})
	h.setState("acme", "c3", frames.StateAssigned, "agent-1")
	select {
	case <-srv.Canceled():
	case <-time.After(wait):
		t.Fatal("reply not fenced after the restart")
	}
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=dropped_fenced")
}
