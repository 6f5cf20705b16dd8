package handoff

import (
	"strings"
	"testing"
)

func TestWants(t *testing.T) {
	t.Parallel()
	m := NewMatcher([]string{"escalate", "找经理"})
	tests := []struct {
		text string
		want bool
	}{
		// English requests.
		{"human", true},
		{"Human!", true},
		{"I want to talk to a human", true},
		{"agent please", true},
		{"Can I speak to a real person?", true},
		{"get me a representative", true},
		{"connect me with customer service", true},
		{"please escalate this", true}, // tenant phrase
		// English questions that merely mention the words.
		{"When is customer service available?", false},
		{"is your packaging humane to animals", false},
		{"what's on the agenda", false},
		{"how long does shipping take", false},
		{"do your agents work on weekends?", false},
		// Chinese requests.
		{"人工", true},
		{"转人工", true},
		{"我要人工客服", true},
		{"请帮我转人工服务，谢谢", true},
		{"客服", true},
		{"找客服", true},
		{"我要找经理", true}, // tenant phrase
		{"可以和真人聊吗", true},
		// Chinese questions.
		{"客服什么时候在线？", false},
		{"人工客服几点下班", false},
		{"退款需要多久", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			if got := m.Wants(tt.text); got != tt.want {
				t.Errorf("Wants(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	m := NewMatcher(nil)
	tests := []struct {
		name  string
		texts []string
		lang  string
		want  string
	}{
		{"first and last", []string{"my kettle arrived broken", "it was order 1234", "human"}, "en",
			"Customer asked: “my kettle arrived broken” … “it was order 1234”"},
		{"one", []string{"where is my parcel?", "agent please"}, "en", "Customer asked: “where is my parcel?”"},
		{"nothing", []string{"转人工"}, "zh", "顾客要求转人工，未说明问题。"},
		{"zh", []string{"退款还没到账", "转人工"}, "zh", "顾客问题：“退款还没到账”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Summarize(m, tt.texts, tt.lang); got != tt.want {
				t.Errorf("Summarize = %q, want %q", got, tt.want)
			}
		})
	}
	long := Summarize(m, []string{strings.Repeat("very long question ", 40)}, "en")
	if n := len([]rune(long)); n != maxSummary || strings.Contains(long, "\n") {
		t.Errorf("long summary has %d runes", n)
	}
}
