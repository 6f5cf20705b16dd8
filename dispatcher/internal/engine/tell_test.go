package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/frontdesk-chat/frontdesk/proto/frames"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
)

func TestWorthTelling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		toldPos, toldETA int32
		pos, eta         int32
		want             bool
	}{
		{name: "never told", pos: 500, eta: 600, want: true},
		{name: "same", toldPos: 3, toldETA: 60, pos: 3, eta: 60, want: false},
		{name: "near the front every move", toldPos: 20, toldETA: 600, pos: 19, eta: 570, want: true},
		{name: "far back small move", toldPos: 400, toldETA: 6000, pos: 399, eta: 5990, want: false},
		{name: "far back tenth", toldPos: 400, toldETA: 6000, pos: 360, eta: 5990, want: true},
		{name: "estimate appears", toldPos: 5, toldETA: -1, pos: 5, eta: 300, want: true},
		{name: "estimate gone", toldPos: 5, toldETA: 300, pos: 5, eta: -1, want: true},
		{name: "estimate moved a lot", toldPos: 50, toldETA: 600, pos: 50, eta: 300, want: true},
		{name: "estimate moved little", toldPos: 50, toldETA: 600, pos: 50, eta: 570, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &queue.Entry{ToldPos: tt.toldPos, ToldETA: tt.toldETA}
			if got := worthTelling(e, tt.pos, tt.eta); got != tt.want {
				t.Fatalf("worthTelling = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCustomerNotice: the assistant is offered and mentioned only when the tenant's bot is on;
// leaving a message is always offered.
func TestCustomerNotice(t *testing.T) {
	t.Parallel()
	both := []string{frames.ActionLeaveMessage, frames.ActionBot}
	leave := []string{frames.ActionLeaveMessage}
	tests := []struct {
		name          string
		reason        string
		bot           bool
		wantActions   []string
		wantAssistant bool   // the text mentions the assistant
		wantPrefix    string // the reason's own words
	}{
		{name: "no agents, bot on", reason: frames.ReasonNoAgents, bot: true, wantActions: both, wantAssistant: true, wantPrefix: "No agent is available"},
		{name: "no agents, bot off", reason: frames.ReasonNoAgents, bot: false, wantActions: leave, wantPrefix: "No agent is available"},
		{name: "outside hours, bot on", reason: frames.ReasonOutsideHours, bot: true, wantActions: both, wantAssistant: true, wantPrefix: "We are closed"},
		{name: "outside hours, bot off", reason: frames.ReasonOutsideHours, bot: false, wantActions: leave, wantPrefix: "We are closed"},
		{name: "max wait, bot on", reason: frames.ReasonMaxWait, bot: true, wantActions: both, wantAssistant: true, wantPrefix: "Sorry for the wait"},
		{name: "max wait, bot off", reason: frames.ReasonMaxWait, bot: false, wantActions: leave, wantPrefix: "Sorry for the wait"},
		// The refusal of to_bot never offers the assistant again, whatever it is told.
		{name: "bot unavailable", reason: frames.ReasonBotUnavailable, bot: true, wantActions: leave, wantAssistant: true, wantPrefix: "The assistant is not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text, actions := customerNotice(tt.reason, tt.bot)
			if !slices.Equal(actions, tt.wantActions) {
				t.Errorf("actions %q, want %q", actions, tt.wantActions)
			}
			if got := strings.Contains(text, "assistant"); got != tt.wantAssistant {
				t.Errorf("text %q mentions the assistant: %v, want %v", text, got, tt.wantAssistant)
			}
			if !strings.HasPrefix(text, tt.wantPrefix) || !strings.HasSuffix(text, ".") {
				t.Errorf("text %q, want a sentence starting %q", text, tt.wantPrefix)
			}
		})
	}
}
