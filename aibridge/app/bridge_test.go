package app_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

func knowledgeTenant(t testing.TB, id string) *fd.Tenant {
	t.Helper()
	dir, err := filepath.Abs(demoKnowledge)
	if err != nil {
		t.Fatal(err)
	}
	return &fd.Tenant{Id: id, Name: "Acme", Bot: &fd.Bot{Enabled: true, HandoffAfterFailures: 2,
		Knowledge: &fd.KnowledgeBase{Paths: []string{dir}}}}
}

func modelTenant(t testing.TB, id, url string) *fd.Tenant {
	ten := knowledgeTenant(t, id)
	ten.Bot.SystemPrompt = "You are Acme's helpful assistant."
	ten.Bot.Model = &fd.Model{Endpoint: url, Name: "test-model", ApiKeyEnv: "ACME_KEY", Temperature: 0.3,
		MaxTokens: 256, TimeoutS: 5, MaxConcurrency: 4}
	return ten
}

var acmeKey = map[string]string{"ACME_KEY": "sk-acme"}

// TestStreamedReply: partials reach the live subject the gateways subscribe to, the final reply
// is stored once with the same id, and the next request carries the conversation so far.
func TestStreamedReply(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(n int, _ llmtest.Request) llmtest.Response {
		if n == 0 {
			return llmtest.Response{Chunks: []string{"Standard ", "delivery ", "takes ", "2-4 days."},
				ChunkDelay: 20 * time.Millisecond, PromptTokens: 120, CompletionTokens: 4}
		}
		return llmtest.Text("You're welcome!")
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	rev := h.openConversation("acme", "c1", frames.StateBot)
	l := h.watchLive("acme", "c1")
	q := h.customer("acme", "c1", "How long does shipping take?")

	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n := len(h.botMessages("acme", "c1")); n != 1 {
			return fmt.Errorf("%d bot messages", n)
		}
		return nil
	})
	bm := h.botMessages("acme", "c1")[0]
	if bm.msg.GetText() != "Standard delivery takes 2-4 days." || bm.msg.GetReplyTo() != q.GetId() ||
		bm.msg.GetRevision() != rev || bm.msg.GetFrom().GetRole() != frames.RoleBot || bm.header.Get("Nats-Msg-Id") != "bot/"+q.GetId() {
		t.Fatalf("bot message %v header %v", bm.msg, bm.header)
	}
	// Partials are throttled (partial_interval), so some may be skipped; those sent are a
	// keyframe with the text so far, then deltas (numbered parts), which add up to a prefix
	// of the final text, and carry its id.
	var partials []*fd.ServerFrame
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if partials = l.all(); len(partials) < 2 {
			return fmt.Errorf("%d partial frames, want the streamed text in several", len(partials))
		}
		return nil
	})
	held, deltas := "", 0
	for i, f := range partials {
		if f.GetType() != frames.TypeMessage || !f.GetPartial() || f.GetId() != bm.msg.GetId() || f.GetConv() != "c1" ||
			f.GetPart() != int32(i+1) {
			t.Fatalf("partial frame %d: %v", i, f)
		}
		if frames.IsDelta(f) {
			held += f.GetDelta()
			deltas++
		} else {
			held = f.GetText()
		}
		if !strings.HasPrefix(bm.msg.GetText(), held) || held == "" {
			t.Fatalf("partial frame %d %v assembles %q, not a prefix of the reply", i, f, held)
		}
	}
	if deltas == 0 || frames.IsDelta(partials[0]) {
		t.Fatalf("partials %v: want a keyframe, then deltas", partials)
	}
	req := srv.Requests()[0]
	if req.Auth != "Bearer sk-acme" || req.Model != "test-model" || !req.Stream || req.MaxTokens != 256 {
		t.Fatalf("request %+v", req)
	}
	if p := req.Prompt(); !strings.Contains(p, "You are Acme's helpful assistant.") || !strings.Contains(p, "Shipping times and costs") {
		t.Fatalf("prompt lacks the system prompt or the matching article:\n%s", p)
	}

	h.customer("acme", "c1", "thanks!")
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n := len(h.botMessages("acme", "c1")); n != 2 {
			return fmt.Errorf("%d bot messages", n)
		}
		return nil
	})
	p := srv.Requests()[1].Prompt()
	if !strings.Contains(p, "user: How long does shipping take?\nassistant: Standard delivery takes 2-4 days.\nuser: thanks!") {
		t.Fatalf("second prompt lacks the conversation so far:\n%s", p)
	}
	h.waitCounter(2, "frontdesk_aibridge_messages_total", "outcome=answered")
	if got := len(h.botMessages("acme", "c1")); got != 2 {
		t.Fatalf("%d bot messages after acks, want 2", got)
	}
	for name, want := range map[string]float64{
		"frontdesk_aibridge_model_first_token_seconds": 2, "frontdesk_aibridge_model_tokens_total": 120 + 4 + 42 + 2,
	} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := h.counter("frontdesk_aibridge_model_requests_total", "result=ok"); got != 2 {
		t.Errorf("model requests ok = %v", got)
	}
}

// TestModelDown: when the model fails (500s) or is slow (no first token in time), the customer
// gets a clear message and the offer of a human; a confident knowledge-base answer still helps;
// repeated failures hand the conversation off with reason model_down.
func TestModelDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp llmtest.Response
		kind string
	}{
		{"500s", llmtest.Response{Status: 500}, "server_error"},
		{"timeout", llmtest.Response{Delay: 20 * time.Second}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return tt.resp })
			h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey, configure: func(c *app.Config) {
				c.AIBridge.FirstTokenTimeout = 300 * time.Millisecond
			}})
			h.openConversation("acme", "c1", frames.StateBot)
			reply := func(text string, n int) *fd.Message {
				t.Helper()
				h.customer("acme", "c1", text)
				var got []stored
				testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
					if got = h.botMessages("acme", "c1"); len(got) != n {
						return fmt.Errorf("%d bot messages, want %d", len(got), n)
					}
					return nil
				})
				return got[n-1].msg
			}
			m := reply("Is the blue sweater in stock?", 1)
			if !strings.Contains(m.GetText(), "Sorry, our assistant can't answer right now.") || !strings.Contains(m.GetText(), `just say "human"`) {
				t.Fatalf("fallback %q", m.GetText())
			}
			if n := len(srv.Requests()); n != 3 {
				t.Fatalf("%d model attempts, want 3 (two retries)", n)
			}
			m = reply("How do I reset my password?", 2)
			if !strings.Contains(m.GetText(), "Forgot password?") || !strings.Contains(m.GetText(), "(From: Resetting your password)") ||
				!strings.Contains(m.GetText(), `just say "human"`) {
				t.Fatalf("knowledge-base fallback %q", m.GetText())
			}
			reply("Is the blue sweater in stock?", 3)
			m = reply("And the red one?", 4)
			if !strings.Contains(m.GetText(), "connecting you with a human agent") {
				t.Fatalf("handoff reply %q", m.GetText())
			}
			cmds := h.commands("acme", "c1")
			if len(cmds) != 1 || cmds[0].GetType() != frames.TypeHandoff || cmds[0].GetReason() != "model_down" ||
				!strings.Contains(cmds[0].GetSummary(), "blue sweater") {
				t.Fatalf("commands %v", cmds)
			}
			if got := h.counter("frontdesk_aibridge_model_errors_total", "kind="+tt.kind); got < 3 {
				t.Errorf("model errors %s = %v", tt.kind, got)
			}
			h.waitCounter(1, "frontdesk_aibridge_handoffs_total", "reason=model_down")
		})
	}
}

// TestHandoffToolCall: the model calling the handoff tool hands the conversation to the
// dispatcher's queue with the model's summary.
func TestHandoffToolCall(t *testing.T) {
	t.Parallel()
	const summary = "Customer's kettle arrived broken and they want a replacement."
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"Let me connect you ", "with a colleague."}, HandoffSummary: summary}
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	h.openConversation("acme", "c1", frames.StateBot)
	q := h.customer("acme", "c1", "My kettle arrived broken, this is unacceptable")
	var cmds []*fd.Command
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if cmds = h.commands("acme", "c1"); len(cmds) != 1 {
			return fmt.Errorf("%d commands", len(cmds))
		}
		return nil
	})
	c := cmds[0]
	if c.GetType() != frames.TypeHandoff || c.GetReason() != "tool" || c.GetSummary() != summary ||
		c.GetActor().GetRole() != frames.RoleBot || c.GetId() != "bot-handoff/"+q.GetId() || c.GetCustomer().GetId() != "cust-c1" {
		t.Fatalf("handoff command %v", c)
	}
	bm := h.botMessages("acme", "c1")
	if len(bm) != 1 || bm[0].msg.GetText() != "Let me connect you with a colleague." || bm[0].header.Get("Fd-Bot-Outcome") != "handoff" {
		t.Fatalf("bot messages %v", bm)
	}
	if tools := srv.Requests()[0].Tools; len(tools) != 1 || tools[0].Function.Name != "handoff" {
		t.Fatalf("tools offered %+v", tools)
	}
	// The dispatcher moves the conversation to queued; the bot is then silent.
	h.setState("acme", "c1", frames.StateQueued, "")
	h.customer("acme", "c1", "hello?")
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=skipped_state")
	if n := len(h.botMessages("acme", "c1")); n != 1 || len(srv.Requests()) != 1 {
		t.Fatalf("bot answered a queued conversation: %d messages, %d requests", n, len(srv.Requests()))
	}
}

// TestNoAnswerOutsideBot: customer messages of queued, assigned and closed conversations are
// not answered.
func TestNoAnswerOutsideBot(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("should not happen") })
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	states := []string{frames.StateAssigned, frames.StateQueued, frames.StateClosed}
	for i, st := range states {
		conv := fmt.Sprintf("c%d", i)
		h.openConversation("acme", conv, st)
		h.customer("acme", conv, "How long does shipping take?")
	}
	// An agent's message in a bot conversation is not the bot's business either.
	h.openConversation("acme", "cb", frames.StateBot)
	h.say("acme", "cb", frames.RoleAgent, "agent-1", "hello")
	h.waitCounter(float64(len(states)), "frontdesk_aibridge_messages_total", "outcome=skipped_state")
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=skipped_role")
	for i := range states {
		if n := len(h.botMessages("acme", fmt.Sprintf("c%d", i))); n != 0 {
			t.Errorf("%s conversation got %d bot messages", states[i], n)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("model called %d times", n)
	}
}

// TestPhraseHandoff: "human" in English and "转人工" in Chinese hand off, with an extractive
// summary of what the customer asked.
func TestPhraseHandoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, knowledgeTenant(t, "acme"), options{})
	tests := []struct {
		name, question, phrase, reply, lang string
	}{
		{"en", "my kettle arrived broken", "I want to talk to a human", "I'm connecting you with a human agent", "en"},
		{"zh", "退款还没到账", "转人工", "正在为您转接人工客服", "zh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conv := "c" + tt.name
			h.openConversation("acme", conv, frames.StateBot)
			h.customer("acme", conv, tt.question)
			testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
				if n := len(h.botMessages("acme", conv)); n != 1 {
					return fmt.Errorf("%d bot messages", n)
				}
				return nil
			})
			h.customer("acme", conv, tt.phrase)
			var cmds []*fd.Command
			testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
				if cmds = h.commands("acme", conv); len(cmds) != 1 {
					return fmt.Errorf("%d commands", len(cmds))
				}
				return nil
			})
			if c := cmds[0]; c.GetReason() != "phrase" || !strings.Contains(c.GetSummary(), tt.question) || c.GetLanguage() != tt.lang {
				t.Fatalf("handoff %v", c)
			}
			bm := h.botMessages("acme", conv)
			if len(bm) != 2 || !strings.Contains(bm[1].msg.GetText(), tt.reply) {
				t.Fatalf("bot messages %v", bm)
			}
		})
	}
}

// TestFencing: an agent takes over while the model is still streaming; the bridge abandons
// the model, stops the partials and never stores the late reply.
func TestFencing(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"I think ", "the answer ", "is 42."}, Hold: hold}
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	h.openConversation("acme", "c1", frames.StateBot)
	l := h.watchLive("acme", "c1")
	h.customer("acme", "c1", "What is the meaning of life?")
	testkit.CheckFor(t, wait, 5*time.Millisecond, func() error {
		if len(l.all()) == 0 {
			return fmt.Errorf("no partial yet")
		}
		return nil
	})
	before := len(l.all())
	h.setState("acme", "c1", frames.StateAssigned, "agent-1")
	select {
	case <-srv.Canceled():
	case <-time.After(wait):
		t.Fatal("the bridge kept streaming after the takeover")
	}
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=dropped_fenced")
	if n := len(h.botMessages("acme", "c1")); n != 0 {
		t.Fatalf("%d bot messages stored after the takeover", n)
	}
	if after := len(l.all()); after != before {
		t.Fatalf("%d partial frames after the takeover", after-before)
	}
	if n := len(h.commands("acme", "c1")); n != 0 {
		t.Fatalf("%d commands", n)
	}
}

// TestRevisionMovesWhileStillBot: a change of the conversation that leaves it with the bot
// (here its priority) fences the reply in flight, which is then made again under the new
// revision: the customer still gets exactly one answer.
func TestRevisionMovesWhileStillBot(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	srv := llmtest.New(t, func(n int, _ llmtest.Request) llmtest.Response {
		if n == 0 {
			return llmtest.Response{Chunks: []string{"first try "}, Hold: hold}
		}
		return llmtest.Text("Second try.")
	})
	h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey})
	h.openConversation("acme", "c1", frames.StateBot)
	l := h.watchLive("acme", "c1")
	h.customer("acme", "c1", "hello")
	testkit.CheckFor(t, wait, 5*time.Millisecond, func() error {
		if len(l.all()) == 0 {
			return fmt.Errorf("no partial yet")
		}
		return nil
	})
	rev := h.setState("acme", "c1", frames.StateBot, "")
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n := len(h.botMessages("acme", "c1")); n != 1 {
			return fmt.Errorf("%d bot messages", n)
		}
		return nil
	})
	bm := h.botMessages("acme", "c1")[0].msg
	if bm.GetText() != "Second try." || bm.GetRevision() != rev {
		t.Fatalf("reply %v, want the second try under revision %d", bm, rev)
	}
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=again")
}

// TestRedeliveredMessageAnsweredOnce: the bridge's acks are refused (as if lost), so JetStream
// redelivers the customer message; the bridge finds its reply already stored and neither asks
// the model again nor posts a second reply.
func TestRedeliveredMessageAnsweredOnce(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "test", Password: "pw"},
			{Username: "bridge", Password: "pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.ACK.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{">"}},
			}},
		}
	})
	withUser := func(user string) string { return strings.Replace(n.URL(), "nats://", "nats://"+user+":pw@", 1) }
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("Two to four days.") })
	h := startHarness(t, n, withUser("test"), modelTenant(t, "acme", srv.URL()), options{
		natsURL: withUser("bridge"), env: acmeKey,
		configure: func(c *app.Config) { c.AIBridge.AckWait = 3 * time.Second; c.AIBridge.MaxDeliver = 2 },
	})
	h.openConversation("acme", "c1", frames.StateBot)
	h.customer("acme", "c1", "How long does shipping take?")
	h.waitCounter(1, "frontdesk_aibridge_messages_total", "outcome=duplicate")
	if n := len(h.botMessages("acme", "c1")); n != 1 {
		t.Fatalf("%d bot replies, want 1", n)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("model asked %d times, want 1", n)
	}
}

// TestKnowledgeBaseAnswerer: with no model, the knowledge base answers confidently in both
// languages, offers suggestions and a human when unsure, and hands off after repeated failures.
func TestKnowledgeBaseAnswerer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, knowledgeTenant(t, "acme"), options{})
	h.openConversation("acme", "c1", frames.StateBot)
	replies := 0
	ask := func(text string) *fd.Message {
		t.Helper()
		h.customer("acme", "c1", text)
		replies++
		var bm []stored
		testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
			if bm = h.botMessages("acme", "c1"); len(bm) != replies {
				return fmt.Errorf("%d bot messages, want %d", len(bm), replies)
			}
			return nil
		})
		return bm[replies-1].msg
	}
	if m := ask("I want to send back a jacket I bought"); !strings.Contains(m.GetText(), "within 30 days") ||
		!strings.HasSuffix(m.GetText(), "(From: Returns)") {
		t.Fatalf("english answer %q", m.GetText())
	}
	if m := ask("密码忘了登不上去"); !strings.HasSuffix(m.GetText(), "（来自：重置密码）") {
		t.Fatalf("chinese answer %q", m.GetText())
	}
	if m := ask("is the blue sweater in stock"); !strings.Contains(m.GetText(), `just say "human"`) {
		t.Fatalf("weak answer %q", m.GetText())
	}
	if n := len(h.commands("acme", "c1")); n != 0 {
		t.Fatalf("handoff after one failure")
	}
	if m := ask("what about the green hat"); !strings.Contains(m.GetText(), "connecting you with a human agent") {
		t.Fatalf("second failure %q", m.GetText())
	}
	// The handoff command follows the reply; wait for it rather than racing it.
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		cmds := h.commands("acme", "c1")
		if len(cmds) != 1 || cmds[0].GetReason() != "bot_failures" || !strings.Contains(cmds[0].GetSummary(), "green hat") {
			return fmt.Errorf("commands %v", cmds)
		}
		return nil
	})
	if hit, all := h.counter("frontdesk_aibridge_knowledge_queries_total", "result=hit"), h.counter("frontdesk_aibridge_knowledge_queries_total"); hit != 2 || all != 4 {
		t.Fatalf("knowledge hits %v of %v", hit, all)
	}
}

// TestTwoReplicasShareTheWork: a second replica joins the same durable consumer (keeping its
// start), and every question is answered exactly once across both.
func TestTwoReplicasShareTheWork(t *testing.T) {
	t.Parallel()
	h := newHarness(t, knowledgeTenant(t, "acme"), options{})
	second := startHarness(t, h.nats, h.nats.URL(), nil, options{})
	const convs = 20
	for i := range convs {
		conv := fmt.Sprintf("c%d", i)
		h.openConversation("acme", conv, frames.StateBot)
		h.customer("acme", conv, "How do I reset my password?")
	}
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if got := h.counter("frontdesk_aibridge_messages_total", "outcome=answered") + second.counter("frontdesk_aibridge_messages_total", "outcome=answered"); got != convs {
			return fmt.Errorf("%v answered, want %d", got, convs)
		}
		return nil
	})
	for i := range convs {
		if n := len(h.botMessages("acme", fmt.Sprintf("c%d", i))); n != 1 {
			t.Errorf("conversation %d has %d bot replies", i, n)
		}
	}
	t.Logf("replica 1 answered %v, replica 2 answered %v", h.counter("frontdesk_aibridge_messages_total", "outcome=answered"),
		second.counter("frontdesk_aibridge_messages_total", "outcome=answered"))
}

// TestBotName: by default bot messages and their partials carry no display name, so the widget
// and the console label them with their own localized word; a configured bot_name is used as is.
func TestBotName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		botName string
	}{
		{"default leaves the label to the page", ""},
		{"configured name", "Aria"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
				return llmtest.Response{Chunks: []string{"Standard ", "delivery ", "takes ", "2-4 days."},
					ChunkDelay: 20 * time.Millisecond}
			})
			h := newHarness(t, modelTenant(t, "acme", srv.URL()), options{env: acmeKey,
				configure: func(c *app.Config) {
					if tt.botName != "" {
						c.AIBridge.BotName = tt.botName
					}
				}})
			h.openConversation("acme", "c1", frames.StateBot)
			l := h.watchLive("acme", "c1")
			h.customer("acme", "c1", "How long does shipping take?")
			var bm []stored
			testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
				if bm = h.botMessages("acme", "c1"); len(bm) != 1 {
					return fmt.Errorf("%d bot messages", len(bm))
				}
				return nil
			})
			if from := bm[0].msg.GetFrom(); from.GetId() != frames.RoleBot || from.GetName() != tt.botName {
				t.Fatalf("bot message from %v, want id bot and name %q", from, tt.botName)
			}
			var partials []*fd.ServerFrame
			testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
				if partials = l.all(); len(partials) == 0 {
					return errors.New("no partial frames")
				}
				return nil
			})
			for _, f := range partials {
				if f.GetFrom().GetRole() != frames.RoleBot || f.GetFrom().GetName() != tt.botName {
					t.Fatalf("partial from %v, want role bot and name %q", f.GetFrom(), tt.botName)
				}
			}
		})
	}
}

// TestDefaultMaxTokens: a tenant that sets no max_tokens still bounds every model reply, with
// the default, so a model left to its own limit cannot write pages on the tenant's bill.
func TestDefaultMaxTokens(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("Two to four days.") })
	ten := modelTenant(t, "acme", srv.URL())
	ten.Bot.Model.MaxTokens = 0
	h := newHarness(t, ten, options{env: acmeKey})
	h.openConversation("acme", "c1", frames.StateBot)
	h.customer("acme", "c1", "How long does shipping take?")
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if n := len(srv.Requests()); n != 1 {
			return fmt.Errorf("%d model requests", n)
		}
		return nil
	})
	if got := srv.Requests()[0].MaxTokens; got != tenants.DefaultModelMaxTokens {
		t.Fatalf("max_tokens %d, want the default %d", got, tenants.DefaultModelMaxTokens)
	}
}
