package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/convo"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llm"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func turn(role, outcome string) convo.Turn {
	t := convo.Turn{Msg: &fd.Message{From: &fd.Participant{Role: role}, Text: role}, Header: nats.Header{}}
	if outcome != "" {
		t.Header.Set(HeaderOutcome, outcome)
	}
	return t
}

func TestConsecutiveFailures(t *testing.T) {
	t.Parallel()
	c, b, a := frames.RoleCustomer, frames.RoleBot, frames.RoleAgent
	tests := []struct {
		name  string
		turns []convo.Turn
		want  int
	}{
		{"empty", nil, 0},
		{"one unanswered", []convo.Turn{turn(c, ""), turn(b, OutcomeUnanswered)}, 1},
		{"two in a row", []convo.Turn{turn(c, ""), turn(b, OutcomeUnanswered), turn(c, ""), turn(b, OutcomeUnanswered), turn(c, "")}, 2},
		{"an answer resets", []convo.Turn{turn(b, OutcomeUnanswered), turn(c, ""), turn(b, OutcomeAnswered), turn(c, ""), turn(b, OutcomeUnanswered)}, 1},
		{"a human resets", []convo.Turn{turn(b, OutcomeUnanswered), turn(a, ""), turn(c, ""), turn(b, OutcomeUnanswered)}, 1},
		{"replies without the header count as answered", []convo.Turn{turn(b, OutcomeUnanswered), turn(b, "")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := consecutiveFailures(tt.turns); got != tt.want {
				t.Errorf("consecutiveFailures = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, conv, locale, want string }{
		{"where is my order", "zh", "zh", "en"},
		{"我的订单在哪里", "", "en", "zh"},
		{"123", "zh-CN", "en", "zh"},
		{"👍", "", "zh", "zh"},
		{"👍", "", "", "en"},
	}
	for _, tt := range tests {
		if got := language(tt.text, tt.conv, tt.locale); got != tt.want {
			t.Errorf("language(%q, %q, %q) = %q, want %q", tt.text, tt.conv, tt.locale, got, tt.want)
		}
	}
}

func TestReplyID(t *testing.T) {
	t.Parallel()
	a, b := replyID("m_1"), replyID("m_2")
	if a != replyID("m_1") || a == b || !strings.HasPrefix(a, "m_") || len(a) != 22 {
		t.Fatalf("reply ids %q %q", a, b)
	}
}

func TestModelSettings(t *testing.T) {
	t.Parallel()
	base := llm.Settings{Retries: 2, BreakerFailures: 5}
	env := map[string]string{"KEY": "sk-1"}
	ten := &fd.Tenant{Id: "acme", Bot: &fd.Bot{Model: &fd.Model{Endpoint: "http://m/v1", Name: "llama", ApiKeyEnv: "KEY",
		Temperature: 0.5, MaxTokens: 100, TimeoutS: 7, MaxConcurrency: 3}}}
	s, ok := ModelSettings(base, ten, func(k string) string { return env[k] })
	if !ok || s.Endpoint != "http://m/v1" || s.Model != "llama" || s.APIKey != "sk-1" || s.Temperature != 0.5 ||
		s.MaxTokens != 100 || s.Timeout != 7*time.Second || s.MaxConcurrency != 3 || s.Retries != 2 || s.BreakerFailures != 5 {
		t.Fatalf("settings %+v", s)
	}
	if _, ok := ModelSettings(base, &fd.Tenant{Bot: &fd.Bot{}}, nil); ok {
		t.Fatal("a tenant without endpoint has a model")
	}
}

func TestPrompt(t *testing.T) {
	t.Parallel()
	j := &job{
		tenant: &fd.Tenant{Id: "acme", Name: "Acme", Bot: &fd.Bot{HistoryTurns: 2}},
		msg:    &fd.Message{Text: "and now?"},
		turns: []convo.Turn{
			{Msg: &fd.Message{From: &fd.Participant{Role: frames.RoleCustomer}, Text: "q1"}},
			{Msg: &fd.Message{From: &fd.Participant{Role: frames.RoleBot}, Text: "a1"}},
			{Msg: &fd.Message{From: &fd.Participant{Role: frames.RoleSystem}, Text: "notice"}},
			{Msg: &fd.Message{From: &fd.Participant{Role: frames.RoleCustomer}, Text: "q2"}},
			{Msg: &fd.Message{From: &fd.Participant{Role: frames.RoleAgent}, Text: "a2"}},
		},
	}
	msgs := prompt(j, nil)
	var got []string
	for _, m := range msgs[1:] {
		got = append(got, m.Role+":"+m.Content)
	}
	want := "user:q2|assistant:[agent] a2|user:and now?"
	if strings.Join(got, "|") != want {
		t.Fatalf("prompt turns %q, want %q", strings.Join(got, "|"), want)
	}
	if !strings.Contains(msgs[0].Content, "assistant of Acme") || !strings.Contains(msgs[0].Content, "handoff tool") {
		t.Fatalf("default system prompt %q", msgs[0].Content)
	}
}
