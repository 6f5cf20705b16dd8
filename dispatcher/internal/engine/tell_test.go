package engine

import (
	"testing"

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
