package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// TestShutdownHandsOverReplyInFlight: a replica stopped while the model is still answering
// gives up at its shutdown deadline and hands the message back; another replica answers it.
func TestShutdownHandsOverReplyInFlight(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	srv := llmtest.New(t, func(n int, _ llmtest.Request) llmtest.Response {
		if n == 0 {
			return llmtest.Response{Chunks: []string{"Let me see "}, Hold: hold}
		}
		return llmtest.Text("Answered by the other replica.")
	})
	shortShutdown := func(c *app.Config) { c.Shutdown.Timeout = time.Second }
	first := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey, configure: shortShutdown})
	first.openConversation("acme", "c1", frames.StateBot)
	first.customer("acme", "c1", "Where is my order?")
	select {
	case <-srv.Started():
	case <-time.After(wait):
		t.Fatal("model not asked")
	}
	second := startHarness(t, first.nats, first.nats.URL(), nil, options{env: acmeKey})

	start := time.Now()
	err := first.stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %s with a 1s deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "replies still in flight") {
		t.Fatalf("shutdown error %v, want the reply still in flight reported", err)
	}
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		bm := first.botMessages("acme", "c1")
		if len(bm) != 1 {
			return fmt.Errorf("%d bot messages", len(bm))
		}
		if bm[0].msg.GetText() != "Answered by the other replica." {
			return fmt.Errorf("reply %q", bm[0].msg.GetText())
		}
		return nil
	})
	if got := second.counter("frontdesk_aibridge_messages_total", "outcome=answered"); got != 1 {
		t.Fatalf("second replica answered %v", got)
	}
}
