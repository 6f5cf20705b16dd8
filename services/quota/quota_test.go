package quota_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/quota"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		used, limit, want, grant int64
		all                      bool
	}{
		{"fits", 10, 100, 5, 5, false},
		{"block cut to what is left", 98, 100, 5, 2, false},
		{"attachment must fit whole", 98, 100, 5, 0, true},
		{"spent", 100, 100, 1, 0, false},
		{"over (limit lowered)", 150, 100, 1, 0, false},
		{"exactly the rest", 95, 100, 5, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quota.Grant(tt.used, tt.limit, tt.want, tt.all); got != tt.grant {
				t.Errorf("Grant(%d, %d, %d, %v) = %d, want %d", tt.used, tt.limit, tt.want, tt.all, got, tt.grant)
			}
		})
	}
}

func TestBlock(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ limit, block int64 }{{1, 1}, {50, 1}, {1000, 10}, {1_000_000, 100}} {
		if got := quota.Block(tt.limit); got != tt.block {
			t.Errorf("Block(%d) = %d, want %d", tt.limit, got, tt.block)
		}
	}
}

// Three counters on one bucket stand for three gateway replicas: together they never let more
// messages through than the daily quota, and they let most of it through.
func TestMessagesAcrossReplicasNeverPassTheQuota(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const limit, replicas, tries = 500, 3, 300
	var mu sync.Mutex
	var allowed, refused int
	var wg sync.WaitGroup
	for range replicas {
		c, err := quota.Open(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // two senders per replica
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range tries {
					err := c.Message(ctx, "t1", limit)
					mu.Lock()
					switch {
					case err == nil:
						allowed++
					case errors.Is(err, quota.ErrExceeded):
						refused++
					default:
						t.Error(err)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if allowed > limit {
		t.Errorf("%d messages allowed, quota %d", allowed, limit)
	}
	if slack := int(replicas * quota.Block(limit)); allowed < limit-slack {
		t.Errorf("%d messages allowed, want at least %d (quota less the replicas' unspent blocks)", allowed, limit-slack)
	}
	c, _ := quota.Open(ctx, js)
	if used, _ := c.Used(ctx, subjects.QuotaMessagesKey("t1", quota.Day(time.Now()))); used > limit {
		t.Errorf("count %d past the quota %d", used, limit)
	}
	if err := c.Message(ctx, "t2", limit); err != nil {
		t.Errorf("another tenant refused: %v", err)
	}
}

func TestAttachmentBytesReserveAndRelease(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, _ := quota.Open(ctx, js)
	b, _ := quota.Open(ctx, js)
	steps := []struct {
		name string
		do   func() error
		want error
		used int64
	}{
		{"first upload", func() error { return a.Reserve(ctx, "t1", 600, 1000) }, nil, 600},
		{"second replica, does not fit", func() error { return b.Reserve(ctx, "t1", 600, 1000) }, quota.ErrExceeded, 600},
		{"no quota counts nothing", func() error { return b.Reserve(ctx, "t1", 600, 0) }, nil, 600},
		{"retention gives bytes back", func() error { return b.Release(ctx, "t1", 500) }, nil, 100},
		{"now it fits", func() error { return b.Reserve(ctx, "t1", 600, 1000) }, nil, 700},
		{"release never below zero", func() error { return a.Release(ctx, "t1", 5000) }, nil, 0},
	}
	for _, s := range steps {
		err := s.do()
		if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("%s: err %v, want %v", s.name, err, s.want)
		}
		if used, _ := a.Used(ctx, subjects.QuotaAttachmentsKey("t1")); used != s.used {
			t.Fatalf("%s: used %d, want %d", s.name, used, s.used)
		}
	}
}
