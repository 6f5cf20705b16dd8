package convo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestHumanOwnedStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state string
		want  bool
	}{
		{name: "bot answers", state: frames.StateBot, want: false},
		{name: "queued can go back to the bot in one write", state: frames.StateQueued, want: false},
		{name: "assigned", state: frames.StateAssigned, want: true},
		{name: "closed", state: frames.StateClosed, want: true},
		{name: "deleted or undecodable", state: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := humanOwned(tc.state); got != tc.want {
				t.Fatalf("humanOwned(%q) = %v, want %v", tc.state, got, tc.want)
			}
		})
	}
}

// TestOwnersFollowBucket: the set is rebuilt from the bucket on start, follows every change
// (a conversation leaving a human for the queue and the bot is no longer skipped), honours its
// bound, and trusts nothing once its watch stops.
func TestOwnersFollowBucket(t *testing.T) {
	t.Parallel()
	_, kv := setup(t)
	key := func(c string) string { return subjects.ConversationKey("acme", c) }
	// Before the watch: what a restarted bridge must find.
	put(t, kv, "c1", frames.StateAssigned)
	put(t, kv, "c2", frames.StateBot)
	put(t, kv, "c3", frames.StateClosed)
	put(t, kv, "c4", frames.StateQueued)

	o := NewOwners(testkit.Logger(t), 3)
	if o.HumanOwned(key("c1")) {
		t.Fatal("human-owned before the watch ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, kv) }()
	t.Cleanup(func() { cancel(); <-done })

	expect := func(want map[string]bool) {
		t.Helper()
		testkit.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
			for c, w := range want {
				if got := o.HumanOwned(key(c)); got != w {
					return fmt.Errorf("%s: human-owned %v, want %v", c, got, w)
				}
			}
			return nil
		})
	}
	expect(map[string]bool{"c1": true, "c2": false, "c3": true, "c4": false, "nope": false})

	put(t, kv, "c1", frames.StateQueued) // released by its agent
	put(t, kv, "c2", frames.StateAssigned)
	if err := kv.Delete(ctx, key("c3")); err != nil {
		t.Fatal(err)
	}
	expect(map[string]bool{"c1": false, "c2": true, "c3": false})
	put(t, kv, "c1", frames.StateBot) // to_bot
	put(t, kv, "c5", frames.StateAssigned)
	put(t, kv, "c6", frames.StateClosed)
	put(t, kv, "c7", frames.StateAssigned) // past the bound of 3: read from the bucket instead
	expect(map[string]bool{"c1": false, "c2": true, "c5": true, "c6": true})
	if o.HumanOwned(key("c7")) || o.Len() != 3 {
		t.Fatalf("bound of 3 not kept: %d remembered, c7 %v", o.Len(), o.HumanOwned(key("c7")))
	}

	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	done <- nil // for the cleanup
	if o.HumanOwned(key("c2")) || o.Len() != 0 {
		t.Fatal("still trusted after the watch stopped")
	}
}
