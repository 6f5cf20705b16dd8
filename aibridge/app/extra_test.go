package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// TestTenantChangesApplyLive: a tenant that gains a model answers with it from the next
// message, without a restart; an attachment alone gets a text-only notice, not silence; an
// undecodable message is dead-lettered.
func TestTenantChangesApplyLive(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("From the model.") })
	h := newHarness(t, knowledgeTenant(t, "acme"), options{env: acmeKey})
	h.openConversation("acme", "c1", frames.StateBot)
	botReply := func(n int) *fd.Message {
		t.Helper()
		var bm []stored
		testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
			if bm = h.botMessages("acme", "c1"); len(bm) != n {
				return fmt.Errorf("%d bot messages, want %d", len(bm), n)
			}
			return nil
		})
		return bm[n-1].msg
	}
	h.customer("acme", "c1", "How do I reset my password?")
	if m := botReply(1); !strings.Contains(m.GetText(), "(From: Resetting your password)") {
		t.Fatalf("knowledge-base reply %q", m.GetText())
	}

	h.putTenant(modelTenant(t, "acme", srv.URL()))
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		h.customer("acme", "c1", "And now?")
		n := len(h.botMessages("acme", "c1"))
		if len(srv.Requests()) == 0 {
			return fmt.Errorf("model not used yet (%d bot messages)", n)
		}
		return nil
	})

	// An image without text.
	h.openConversation("acme", "c2", frames.StateBot)
	m := &fd.Message{Id: "m_img", Tenant: "acme", Conv: "c2", From: &fd.Participant{Id: "cust-c2", Role: frames.RoleCustomer},
		Kind: frames.KindImage, Attachment: &fd.Attachment{Id: "att_1", Type: "image/png"}, CreatedAt: timestamppb.Now()}
	data, _ := proto.Marshal(m)
	if _, err := h.js.Publish(context.Background(), subjects.Messages("acme", "c2"), data); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		bm := h.botMessages("acme", "c2")
		if len(bm) != 1 || !strings.Contains(bm[0].msg.GetText(), "I can only read text") {
			return fmt.Errorf("replies to an image: %v", bm)
		}
		return nil
	})

	// Garbage on a conversation subject.
	if _, err := h.js.Publish(context.Background(), subjects.Messages("acme", "c3"), []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		dl := h.read(subjects.StreamDeadLetters, subjects.DeadLetters("aibridge"))
		if len(dl) != 1 {
			return fmt.Errorf("%d dead letters", len(dl))
		}
		d := &fd.DeadLetter{}
		if err := proto.Unmarshal(dl[0].Data, d); err != nil || d.GetService() != "aibridge" ||
			d.GetSubject() != subjects.Messages("acme", "c3") || d.GetStream() != subjects.StreamMessages {
			return fmt.Errorf("dead letter %v, %v", d, err)
		}
		return nil
	})
}
