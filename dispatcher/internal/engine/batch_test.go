package engine

import (
	"fmt"
	"slices"
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
