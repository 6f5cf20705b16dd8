package hub

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// TestSettleSlow: a reported subscription stays watched until a reading finds no new drop and
// a message taken since the previous reading; a new report or a fill that could not start
// keeps it.
func TestSettleSlow(t *testing.T) {
	t.Parallel()
	type reading struct {
		drops     int
		delivered int64
		filling   bool
		report    bool // NATS reports the subscription again between listing and settling
	}
	tests := []struct {
		name     string
		readings []reading
		watched  bool
	}{
		{"first reading", []reading{{drops: 3, delivered: 10}}, true},
		{"nothing taken since", []reading{{3, 10, false, false}, {3, 10, false, false}}, true},
		{"done dropping", []reading{{3, 10, false, false}, {3, 11, false, false}}, false},
		{"still dropping", []reading{{3, 10, false, false}, {5, 11, false, false}}, true},
		{"reported again meanwhile", []reading{{3, 10, false, false}, {3, 11, false, true}}, true},
		{"its fill could not start", []reading{{3, 10, false, false}, {3, 11, true, false}}, true},
		{"done after dropping more", []reading{{3, 10, false, false}, {5, 11, false, false}, {5, 12, false, false}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &Hub{}
			sub := &nats.Subscription{}
			h.noteSlow(sub)
			for _, r := range tc.readings {
				subs := h.slowSubs()
				if len(subs) != 1 {
					t.Fatalf("%d subscriptions watched before a reading, want 1", len(subs))
				}
				if r.report {
					h.noteSlow(sub)
				}
				h.settleSlow(subs[0], r.drops, r.delivered, r.filling)
			}
			if got := len(h.slowSubs()) == 1; got != tc.watched {
				t.Fatalf("watched = %v, want %v", got, tc.watched)
			}
		})
	}
}
