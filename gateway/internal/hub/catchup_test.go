package hub_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// checkSeqs fails unless every conversation's listener got exactly want[conv], in order.
func checkSeqs(recs []*rec, ids []string, want map[string][]int64) error {
	for i, id := range ids {
		if got := recs[i].seqs(); !slices.Equal(got, want[id]) {
			return fmt.Errorf("%s: delivered %v, want %v", id, got, want[id])
		}
	}
	return nil
}

// consumersGone waits until no consumer is left on the messages stream (a read's ordered
// consumer is deleted last, so the hub has made every request of it).
func consumersGone(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, subjects.StreamMessages)
		if err != nil {
			return err
		}
		if c := st.CachedInfo().State.Consumers; c != 0 {
			return fmt.Errorf("%d consumers", c)
		}
		return nil
	})
}

// TestReconnectCatchUp: a hub follows many conversations; NATS restarts and messages are
// stored to a random subset of them (some get several) while the hub is away. After the
// reconnect every listener has exactly what its conversation missed, in seq order, without
// duplicates. Within Options.CatchUpMax the hub reads the stream once for all of them (a few
// requests, not one per conversation); over it, it checks each conversation on its own.
func TestReconnectCatchUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		convs, before  int // conversations followed; messages stored before the restart
		missed         int // messages stored while the hub is away
		opts           hub.Options
		minReq, maxReq uint64 // bounds of the messages the hub's connection sends to recover
	}{
		// Stream info, consumer create, one fetch per 1,024 messages, consumer delete: 4 or
		// 5 here; the slack is for an ordered consumer's reset.
		{name: "one pass", convs: 2000, before: 300, missed: 700, minReq: 3, maxReq: 12},
		// A request per conversation at least (its last stored message). 150 conversations
		// are enough to be over CatchUpMax; each is read on its own (a consumer created,
		// fetched and deleted), which on a loaded 2-core machine with the race detector took
		// 300 of them past half a minute.
		{name: "over CatchUpMax", convs: 150, before: 30, missed: 100, opts: hub.Options{CatchUpMax: 50}, minReq: 150, maxReq: 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := testkit.RunNATS(t)
			_, js := testkit.Connect(t, n.URL())
			testkit.Provision(t, js)
			o := newOutage(t, n, 3*time.Second)
			h := newHub(t, o.nc, tc.opts)
			go h.Watch(t.Context(), 20*time.Millisecond)
			recs := make([]*rec, tc.convs)
			ids := follow(t, h, tc.convs, func(i int) hub.Listener { recs[i] = &rec{}; return recs[i] })
			rng := rand.New(rand.NewPCG(7, uint64(tc.convs)))
			want := storeMany(t, js, ids, tc.before, rng)
			testkit.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return checkSeqs(recs, ids, want) })

			out := o.nc.Stats().OutMsgs
			o.restart(t)
			_, js2 := testkit.Connect(t, n.URL())
			missed := storeMany(t, js2, ids, tc.missed, rng)
			early := o.nc.IsConnected()
			for id, s := range missed {
				want[id] = append(want[id], s...)
			}
			testkit.CheckFor(t, time.Minute, 20*time.Millisecond, func() error { return checkSeqs(recs, ids, want) })
			consumersGone(t, js2)
			req := o.nc.Stats().OutMsgs - out
			t.Logf("%d conversations, %d of them missed %d messages: the hub sent %d requests", tc.convs, len(missed), tc.missed, req)
			if early {
				// Messages stored after the reconnect came live and may have started fills
				// of their own.
				t.Log("the hub reconnected before every message was stored: requests not checked")
			} else if req < tc.minReq || req > tc.maxReq {
				t.Fatalf("the hub sent %d requests to recover, want %d to %d", req, tc.minReq, tc.maxReq)
			}
			// Live delivery goes on.
			again := storeMany(t, js2, ids[:1], 1, rng)
			want[ids[0]] = append(want[ids[0]], again[ids[0]]...)
			testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error { return checkSeqs(recs, ids[:1], want) })
		})
	}
}

// TestCatchUpHoldsLive: live messages that arrive while a reconnect catch-up reads the stream
// are held and delivered once, after what the conversation missed; held messages beyond
// Options.Hold are read from the stream by the conversation's own fill afterwards.
func TestCatchUpHoldsLive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hold int // Options.Hold
		live int // messages stored to each conversation during the catch-up
	}{
		{name: "held", hold: 0, live: 1},
		{name: "beyond Hold", hold: 1, live: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := testkit.RunNATS(t)
			_, js := testkit.Connect(t, n.URL())
			testkit.Provision(t, js)
			o := newOutage(t, n, 2*time.Second)
			h := newHub(t, o.nc, hub.Options{Hold: tc.hold})
			// c1 misses messages while away and gets live ones during the catch-up; c2 only
			// the live ones; c3 nothing.
			ids := []string{"c1", "c2", "c3"}
			recs := []*rec{{}, {}, {}}
			for i, id := range ids {
				if err := h.Subscribe(hub.Messages, subjects.Deliver("acme", id), id, recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var mu sync.Mutex // the hook stores from the hub's Watch goroutine
			want := map[string][]int64{}
			var js2 jetstream.JetStream
			store := func(conv string) (int64, error) {
				b, _ := proto.Marshal(&fd.Message{Id: conv, Text: conv})
				ack, err := js2.Publish(ctx, subjects.Messages("acme", conv), b)
				if err != nil {
					return 0, err
				}
				mu.Lock()
				want[conv] = append(want[conv], int64(ack.Sequence))
				mu.Unlock()
				return int64(ack.Sequence), nil
			}
			type stored struct {
				last int64
				err  error
			}
			hooked := make(chan stored, 1)
			resume := make(chan struct{}) // the live messages reached the hub: the catch-up goes on
			var resumeOnce sync.Once
			release := func() { resumeOnce.Do(func() { close(resume) }) }
			defer release()              // a failing test does not leave the catch-up waiting
			ready := make(chan struct{}) // js2 is set and c1's missed messages are stored
			hub.SetCatchUpHook(h, func() {
				<-ready
				var st stored
				for range tc.live {
					for _, conv := range ids[:2] {
						if st.last, st.err = store(conv); st.err != nil {
							break
						}
					}
				}
				hooked <- st
				<-resume
			})
			go h.Watch(t.Context(), 20*time.Millisecond)

			o.restart(t)
			_, js2 = testkit.Connect(t, n.URL())
			for range 3 {
				if _, err := store("c1"); err != nil {
					t.Fatal(err)
				}
			}
			if o.nc.IsConnected() {
				t.Fatal("the hub reconnected before the messages were stored")
			}
			close(ready)
			select {
			case st := <-hooked:
				if st.err != nil {
					t.Fatal(st.err)
				}
				// Held, since the catch-up has taken the conversations over: wait until the hub
				// received them all before the catch-up reads the stream.
				testkit.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
					if high := hub.High(h); high < st.last {
						return fmt.Errorf("live messages up to %d received, want %d", high, st.last)
					}
					return nil
				})
				release()
			case <-ctx.Done():
				t.Fatal("no catch-up")
			}
			testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error { return checkSeqs(recs, ids, want) })
			// Nothing more comes (a duplicate would arrive about now): a quiet period, time passing
			// rather than a condition to wait for.
			time.Sleep(100 * time.Millisecond)
			if err := checkSeqs(recs, ids, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCatchUpAfterLiveMessage: a message stored right after the reconnect reaches the hub
// before the catch-up starts, with a higher sequence than what another conversation missed;
// the catch-up still reads from before the disconnect.
func TestCatchUpAfterLiveMessage(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	_, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	o := newOutage(t, n, 2*time.Second)
	h := newHub(t, o.nc, hub.Options{})
	ids := []string{"c1", "c2"}
	recs := []*rec{{}, {}}
	for i, id := range ids {
		if err := h.Subscribe(hub.Messages, subjects.Deliver("acme", id), id, recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var caught atomic.Bool
	hub.SetCatchUpHook(h, func() { caught.Store(true) })
	// Slow enough that the live message is in before the catch-up, most of the time.
	go h.Watch(t.Context(), 500*time.Millisecond)
	rng := rand.New(rand.NewPCG(3, 4))
	want := storeMany(t, js, ids, 4, rng)
	testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error { return checkSeqs(recs, ids, want) })
	// Watch's tick raises the catch-up mark to what the hub received.
	testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if mark, high := hub.Mark(h), hub.High(h); mark < high {
			return fmt.Errorf("mark %d below %d received", mark, high)
		}
		return nil
	})

	o.restart(t)
	_, js2 := testkit.Connect(t, n.URL())
	missed := storeMany(t, js2, ids[:1], 3, rng)
	if o.nc.IsConnected() {
		t.Fatal("the hub reconnected before the messages were stored")
	}
	<-o.reconnected
	// The server has the hub's subscriptions back once it answered a ping sent after them.
	if err := o.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	live := storeMany(t, js2, ids[1:], 1, rng)
	testkit.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if hub.High(h) < live["c2"][0] {
			return errors.New("live message not received")
		}
		return nil
	})
	if caught.Load() {
		t.Log("the catch-up started before the live message arrived")
	}
	want["c1"] = append(want["c1"], missed["c1"]...)
	want["c2"] = append(want["c2"], live["c2"]...)
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error { return checkSeqs(recs, ids, want) })
}
