package engine

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestBurstKeepsEveryRule sends 150 handoffs at once, every third followed at once by the
// customer's close, so the actor's rounds hold groups, commands that split them (a second
// command of a conversation) and matches together. Every conversation ends as its commands
// say (closed ones closed and never assigned after their close, the others assigned once),
// no agent holds more than their capacity, and each conversation's events are stored in the
// order they happened.
func TestBurstKeepsEveryRule(t *testing.T) {
	t.Parallel()
	const customers, agents, capacity = 150, 12, 10
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))
	convs := make([]string, customers)
	for i := range convs {
		convs[i] = fmt.Sprintf("c%03d", i)
	}
	bulkConversations(t, v, convs, frames.StateBot)
	for i := range agents {
		v.online(fmt.Sprint("a", i), "s", capacity)
		v.status(fmt.Sprint("a", i), frames.StatusAvailable)
	}
	closes := func(i int) bool { return i%3 == 0 }
	publish := func(typ, conv string, i int) {
		c := &fd.Command{Id: typ + "-" + conv, Tenant: "acme", Conv: conv, Type: typ,
			Actor: customer(fmt.Sprint("u", i)), At: timestamppb.Now()}
		data, _ := proto.Marshal(c)
		msg := nats.NewMsg(subjects.ConvCommands("acme", conv))
		msg.Data = data
		if _, err := v.js.PublishMsgAsync(msg, jetstream.WithMsgID(c.GetId())); err != nil {
			t.Fatal(err)
		}
	}
	for i, conv := range convs {
		publish(frames.CommandHandoff, conv, i)
		if closes(i) {
			publish(frames.CommandClose, conv, i)
		}
	}
	select {
	case <-v.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("commands not stored")
	}
	testkit.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		for i, conv := range convs {
			want := frames.StateAssigned
			if closes(i) {
				want = frames.StateClosed
			}
			if c := v.get(conv); c.GetState() != want {
				return fmt.Errorf("%s is %s, want %s", conv, c.GetState(), want)
			}
		}
		return nil
	})
	load := map[string]int{}
	for _, conv := range convs {
		if c := v.get(conv); c.GetState() == frames.StateAssigned {
			load[c.GetAgent().GetId()]++
		}
	}
	for a, n := range load {
		if n > capacity {
			t.Errorf("%s holds %d, capacity %d", a, n, capacity)
		}
	}
	// Events in the stream's order, per conversation; they are published after the
	// conversation's commit, so wait for them.
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		seen := map[string][]string{}
		for _, ev := range v.events() {
			seen[ev.GetConv()] = append(seen[ev.GetConv()], ev.GetType())
		}
		for i, conv := range convs {
			got := seen[conv]
			if len(got) == 0 || got[0] != frames.EventQueued {
				return fmt.Errorf("%s events %v: not queued first", conv, got)
			}
			assigned := 0
			for _, typ := range got {
				if typ == frames.EventAssigned {
					assigned++
				}
			}
			switch {
			case assigned > 1:
				return fmt.Errorf("%s events %v: assigned twice", conv, got)
			case closes(i) && got[len(got)-1] != frames.EventClosed:
				return fmt.Errorf("%s events %v: closed, but not last", conv, got)
			case !closes(i) && (assigned != 1 || got[len(got)-1] != frames.EventAssigned):
				return fmt.Errorf("%s events %v: want one assignment, last", conv, got)
			}
		}
		return nil
	})
}

// TestBatchable: only decisions that commit with one compare-and-set first, or commit
// nothing, are carried out in a group; the others keep the serial path.
func TestBatchable(t *testing.T) {
	t.Parallel()
	w := write{next: &fd.Conversation{State: frames.StateQueued}}
	tests := []struct {
		name    string
		effects []effect
		want    bool
	}{
		{"nothing", nil, true},
		{"frame only (a refusal)", []effect{sendFrame{user: "u"}}, true},
		{"write then memory and NATS", []effect{w, lineAdd{}, saveRecord{}, event{typ: frames.EventQueued}, tellFresh{}}, true},
		{"left message before the write", []effect{publishMessage{m: &fd.Message{}}, w}, false},
		{"write after another effect", []effect{lineRemove{}, w}, false},
		{"accept", []effect{acceptOffer{agent: "a"}}, false},
		{"status", []effect{setStatus{agent: "a"}, saveAgent{agent: "a"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := batchable(decision{effects: tt.effects}); got != tt.want {
				t.Errorf("batchable(%v) = %v, want %v", tt.effects, got, tt.want)
			}
		})
	}
}

// TestIOSteps: a conversation's effects in a round go out in the fewest steps that keep its
// events in order, its KV writes in order, and frames and deletes after everything before.
func TestIOSteps(t *testing.T) {
	t.Parallel()
	ev := ioOp{ev: &pendingEvent{}, msg: &nats.Msg{}}
	put := ioOp{msg: &nats.Msg{}}
	frame := ioOp{quick: true}
	del := ioOp{}
	tests := []struct {
		name string
		ops  []ioOp
		want []int
	}{
		{"handed off and assigned in one round", []ioOp{put, ev, ev, put, frame}, []int{0, 0, 1, 1, 2}},
		{"assigned", []ioOp{ev, put, frame}, []int{0, 0, 1}},
		{"handed off then closed", []ioOp{put, ev, del, del, del, ev}, []int{0, 0, 1, 2, 3, 4}},
		{"frame first", []ioOp{frame, ev, put}, []int{0, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newIOBatch()
			for _, op := range tt.ops {
				b.add("c", op)
			}
			var got []int
			for _, op := range b.jobs[0].ops {
				got = append(got, op.step)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("steps %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLongLineInGroups clears a line longer than two groups (matchGroup, match.go) while one
// conversation of the second group was changed behind the dispatcher's back (a previous owner's last write:
// its compare-and-set fails and the serial path follows the truth). Every other conversation
// is assigned exactly once, after it was queued; the changed one is not assigned and its
// agent's slot goes back; no agent holds more than its capacity. (The production lease: with
// the tests' 2 s lease a loaded machine made this a test of takeovers.)
func TestLongLineInGroups(t *testing.T) {
	t.Parallel()
	const n, agents, capacity = 2*maxGroup + 200, 30, 80
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", benchSettings()))
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
		// by conversation: queued seen, and the agent of each assigned event
		queued   = map[string]bool{}
		assigned = map[string][]string{}
	)
	sub, err := v.nc.Subscribe(subjects.TenantEvents("acme"), func(m *nats.Msg) {
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		conv := ev.GetConv()
		seen[conv] = append(seen[conv], ev.GetType())
		switch ev.GetType() {
		case frames.EventQueued:
			queued[conv] = true
		case frames.EventAssigned:
			assigned[conv] = append(assigned[conv], ev.GetAgent().GetId())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	convs := benchConvs(n)
	bulkConversations(t, v, convs, frames.StateQueued)
	testkit.CheckFor(t, 5*time.Minute, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(queued) < n {
			return fmt.Errorf("%d of %d queued", len(queued), n)
		}
		return nil
	})
	moved := convs[maxGroup+100]
	c := v.get(moved)
	c.State = frames.StateClosed
	data, _ := proto.Marshal(c)
	if _, err := v.conv.Put(t.Context(), subjects.ConversationKey("acme", moved), data); err != nil {
		t.Fatal(err)
	}
	for i := range agents {
		v.online(fmt.Sprint("a", i), "s", capacity)
		v.status(fmt.Sprint("a", i), frames.StatusAvailable)
	}
	testkit.CheckFor(t, 5*time.Minute, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(assigned) < n-1 {
			return fmt.Errorf("%d of %d assigned", len(assigned), n-1)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	load := map[string]int{}
	for _, conv := range convs {
		got := seen[conv]
		if conv == moved {
			if len(assigned[conv]) > 0 {
				t.Errorf("%s (closed behind the dispatcher's back) events %v: assigned", conv, got)
			}
			continue
		}
		if len(assigned[conv]) != 1 || got[len(got)-1] != frames.EventAssigned ||
			slices.Index(got, frames.EventQueued) > slices.Index(got, frames.EventAssigned) {
			t.Errorf("%s events %v, want queued, then one assignment, last", conv, got)
			continue
		}
		load[assigned[conv][0]]++
	}
	for a, k := range load {
		if k > capacity {
			t.Errorf("%s holds %d, capacity %d", a, k, capacity)
		}
	}
	if got := v.get(moved).GetState(); got != frames.StateClosed {
		t.Errorf("%s is %s, want closed", moved, got)
	}
}
