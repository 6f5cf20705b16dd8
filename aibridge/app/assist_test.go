package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// TestAssist: an agent gets a suggested reply for their assigned conversation, from the model
// or, for a tenant without one, from the knowledge base; others are refused.
func TestAssist(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Text("Sorry for the wait! Your parcel should arrive within 2-4 business days.")
	})
	slow := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Response{Delay: 20 * time.Second} })
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey, configure: func(c *app.Config) {
		c.AIBridge.AssistTimeout = time.Second
	}})
	h.putTenant(knowledgeTenant(t, "kbonly"))
	h.putTenant(modelTenant(t, "slow", slow.URL()))
	for _, ten := range []string{"acme", "kbonly", "slow"} {
		h.openConversation(ten, "c1", frames.StateBot)
		h.setState(ten, "c1", frames.StateAssigned, "agent-1")
		h.customer(ten, "c1", "where can I find the tracking number for my shipment")
		h.say(ten, "c1", frames.RoleAgent, "agent-1", "Let me check that for you.")
	}
	h.openConversation("acme", "cbot", frames.StateBot)

	ask := func(tenant, conv, agent string) *fd.AssistReply {
		t.Helper()
		data, _ := proto.Marshal(&fd.AssistRequest{Tenant: tenant, Conv: conv, Agent: &fd.Participant{Id: agent, Role: frames.RoleAgent}})
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		msg, err := h.nc.RequestWithContext(ctx, subjects.Assist(tenant, conv), data)
		if err != nil {
			t.Fatal(err)
		}
		r := &fd.AssistReply{}
		if err := proto.Unmarshal(msg.Data, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name, tenant, conv, agent string
		text, err                 string
	}{
		{"model suggestion", "acme", "c1", "agent-1", "Sorry for the wait!", ""},
		{"knowledge-base suggestion", "kbonly", "c1", "agent-1", "tracking number", ""},
		{"slow model falls back to the knowledge base", "slow", "c1", "agent-1", "tracking number", ""},
		{"another agent", "acme", "c1", "agent-2", "", "not assigned to this agent"},
		{"bot conversation", "acme", "cbot", "agent-1", "", "not assigned"},
		{"unknown tenant", "nobody", "c1", "agent-1", "", "unknown tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ask(tt.tenant, tt.conv, tt.agent)
			if !strings.Contains(r.GetText(), tt.text) || !strings.Contains(r.GetError(), tt.err) ||
				(tt.text == "") != (r.GetText() == "") {
				t.Fatalf("reply %v, want text ~%q error ~%q", r, tt.text, tt.err)
			}
		})
	}
	p := srv.Requests()[0].Prompt()
	if !strings.Contains(p, "customer: where can I find the tracking number") || !strings.Contains(p, "agent: Let me check") ||
		!strings.Contains(p, "Tracking your order") {
		t.Fatalf("assist prompt lacks the conversation or the article:\n%s", p)
	}
	if got := h.counter("frontdesk_aibridge_assist_requests_total", "result=ok"); got != 3 {
		t.Fatalf("assist ok = %v", got)
	}
}
