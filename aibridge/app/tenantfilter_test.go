package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/bot"
)

// TestTenantWithoutBotIsNotDelivered: the messages of a tenant without a bot never reach the
// bridge (its consumer's filter leaves them out), while a tenant with one is answered; once the
// tenant gets bot settings, its bot conversations are answered without a restart.
func TestTenantWithoutBotIsNotDelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, knowledgeTenant(t, "acme"), options{})
	h.putTenant(&fd.Tenant{Id: "quiet", Name: "Humans only"})
	delivered := func() uint64 {
		t.Helper()
		c, err := h.js.Consumer(context.Background(), subjects.StreamMessages, bot.Durable)
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Delivered.Consumer
	}
	h.openConversation("quiet", "q1", frames.StateQueued)
	h.openConversation("acme", "a1", frames.StateBot)
	for i := range 20 {
		h.customer("quiet", "q1", fmt.Sprintf("message %d for a human", i))
	}
	h.customer("acme", "a1", "How do I reset my password?")
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n := len(h.botMessages("acme", "a1")); n != 1 {
			return fmt.Errorf("%d bot replies in acme", n)
		}
		return nil
	})
	// acme's question and the bot's reply, none of quiet's 20.
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n, want := delivered(), uint64(len(h.messages("acme", "a1"))); n != want {
			return fmt.Errorf("the bridge's consumer delivered %d messages, want %d (acme's only)", n, want)
		}
		return nil
	})

	// quiet gets a bot: its bot conversations are answered from then on.
	h.putTenant(knowledgeTenant(t, "quiet"))
	h.openConversation("quiet", "q2", frames.StateBot)
	testkit.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if n := len(h.botMessages("quiet", "q2")); n == 0 {
			h.customer("quiet", "q2", "How do I reset my password?")
			return fmt.Errorf("no bot reply in quiet yet")
		}
		return nil
	})
}
