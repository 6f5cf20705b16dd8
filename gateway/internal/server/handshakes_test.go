package server

import (
	"context"
	"testing"
	"time"
)

// TestHandshakeGate: a handshake gets a free slot at once, waits for a taken one to come back,
// and gives up (to be refused) when none does within the wait or its request ends first.
func TestHandshakeGate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		slots   int
		wait    time.Duration
		held    int  // slots taken before the handshake arrives
		freeOne bool // one of them is given back while it waits
		cancel  bool // its request is gone
		want    bool
		busy    int // slots taken afterwards
	}{
		{name: "free slot", slots: 2, wait: time.Hour, held: 1, want: true, busy: 2},
		{name: "all taken, none given back: refused after the wait", slots: 2, wait: 10 * time.Millisecond, held: 2, want: false, busy: 2},
		{name: "all taken, one given back: admitted", slots: 1, wait: time.Hour, held: 1, freeOne: true, want: true, busy: 1},
		{name: "all taken, request gone: refused", slots: 1, wait: time.Hour, held: 1, cancel: true, want: false, busy: 1},
		{name: "no bound", slots: -1, wait: time.Hour, held: 1000, want: true, busy: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newHandshakeGate(tc.slots, tc.wait)
			for range tc.held {
				if !g.enter(context.Background()) {
					t.Fatal("a free slot refused")
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			if tc.freeOne {
				g.leave()
			}
			if got := g.enter(ctx); got != tc.want {
				t.Fatalf("enter = %v, want %v", got, tc.want)
			}
			if got := g.busy(); got != tc.busy {
				t.Fatalf("%d slots taken, want %d", got, tc.busy)
			}
		})
	}
}
