package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	dispatcher "github.com/frontdesk-chat/frontdesk/dispatcher/app"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// TestHandoffMovesToQueued runs the real dispatcher next to the bridge: the model's handoff
// tool call moves the conversation to `queued`, with the model's summary on the conversation,
// and the bridge stops answering it.
func TestHandoffMovesToQueued(t *testing.T) {
	t.Parallel()
	const summary = "Customer wants to change the size of a jacket they already returned."
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"I'll get a colleague to help."}, HandoffSummary: summary}
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})

	cfg := dispatcher.DefaultConfig()
	cfg.NATS.URL = h.nats.URL()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Shutdown.Timeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	d, err := dispatcher.New(ctx, cfg, testkit.Logger(t).Named("dispatcher"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dispatcher: %v", err)
		}
	})

	h.openConversation("acme", "c1", frames.StateBot)
	h.customer("acme", "c1", "I returned a jacket but want a different size instead")
	var c *fd.Conversation
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		e, err := h.conv.Get(context.Background(), subjects.ConversationKey("acme", "c1"))
		if err != nil {
			return err
		}
		c = &fd.Conversation{}
		if err := proto.Unmarshal(e.Value(), c); err != nil {
			return err
		}
		if c.GetState() != frames.StateQueued {
			return fmt.Errorf("state %s", c.GetState())
		}
		return nil
	})
	if c.GetSummary() != summary {
		t.Errorf("conversation summary %q, want the model's", c.GetSummary())
	}
	h.customer("acme", "c1", "hello? anyone?")
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=skipped_state")
	if n := len(h.botMessages("acme", "c1")); n != 1 {
		t.Fatalf("%d bot messages, want only the handoff reply", n)
	}
}
