package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestOwnerFilter: a customer message of a conversation the owner set knows is assigned or
// closed is settled without a read of the bucket and unanswered; once the conversation is back
// with the bot (released to the queue, then to_bot) the next message is answered, and the
// owner set holds what the bucket holds, including what was there before the bridge started.
func TestOwnerFilter(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("Three days.") })
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	waitOwners := func(n float64) {
		t.Helper()
		testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
			if got := h.counter("frontdesk_aibridge_owners"); got != n {
				return fmt.Errorf("owners %v, want %v", got, n)
			}
			return nil
		})
	}

	h.openConversation("acme", "c1", frames.StateBot)
	h.setState("acme", "c1", frames.StateAssigned, "agent-1")
	h.openConversation("acme", "c2", frames.StateClosed)
	waitOwners(2)
	h.customer("acme", "c1", "How long does shipping take?")
	h.customer("acme", "c2", "Anyone there?")
	h.waitCounter(2, "frontdesk_aibridge_owner_skips_total")
	h.waitCounter(2, "frontdesk_aibridge_messages_total", "outcome=skipped_state")

	// Released by the agent, then back to the bot: answered again.
	h.setState("acme", "c1", frames.StateQueued, "")
	h.setState("acme", "c1", frames.StateBot, "")
	waitOwners(1)
	q := h.customer("acme", "c1", "How long does shipping take, then?")
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		for _, m := range h.botMessages("acme", "c1") {
			if m.msg.GetReplyTo() == q.GetId() {
				return nil
			}
		}
		return fmt.Errorf("no bot reply to %s", q.GetId())
	})
	for _, c := range []string{"c2"} {
		if n := len(h.botMessages("acme", c)); n != 0 {
			t.Fatalf("%s: %d bot messages in a human-owned conversation", c, n)
		}
	}
	if got := h.counter("frontdesk_aibridge_owner_skips_total"); got != 2 {
		t.Fatalf("owner skips %v, want 2", got)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("model called %d times, want once", n)
	}
}
