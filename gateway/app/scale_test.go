package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestManyConversations: one gateway follows more conversations than a stream may have
// consumers by default (1,000, the test server's limit is not raised): live delivery takes no
// JetStream consumer per conversation, and every message reaches the agent with its seq.
func TestManyConversations(t *testing.T) {
	t.Parallel()
	const convs = 1100
	e := apptest.NewEnv(t)
	g := e.Gateway()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kvConv, err := e.JS.KeyValue(ctx, subjects.BucketConversations)
	if err != nil {
		t.Fatal(err)
	}
	kvPart, err := e.JS.KeyValue(ctx, subjects.BucketParticipants)
	if err != nil {
		t.Fatal(err)
	}
	agent := &fd.Participant{Id: "busy", Role: frames.RoleAgent, Name: "Busy"}
	pb, _ := proto.Marshal(agent)
	ids := make([]string, convs)
	for i := range ids {
		ids[i] = fmt.Sprintf("c_many%04d", i)
		cb, _ := proto.Marshal(&fd.Conversation{Tenant: "acme", Conv: ids[i], State: frames.StateAssigned, Agent: agent,
			Customer: &fd.Participant{Id: fmt.Sprint("cust", i), Role: frames.RoleCustomer}})
		if _, err := kvConv.Put(ctx, subjects.ConversationKey("acme", ids[i]), cb); err != nil {
			t.Fatal(err)
		}
		if _, err := kvPart.Put(ctx, subjects.ParticipantKey("acme", agent.Id, ids[i]), pb); err != nil {
			t.Fatal(err)
		}
	}
	ag, w := g.Dial(t, apptest.Token(t, "acme", agent.Id, frames.RoleAgent))
	if len(w.GetConversations()) != convs {
		t.Fatalf("welcome lists %d conversations, want %d", len(w.GetConversations()), convs)
	}
	// Store one message per conversation, a batch at a time (the session's queue is bounded).
	seqs := map[string]int64{}
	for i := 0; i < convs; i += 100 {
		var acks []jetstream.PubAckFuture
		for _, id := range ids[i:min(i+100, convs)] {
			b, _ := proto.Marshal(&fd.Message{Id: "m_" + id, Tenant: "acme", Conv: id, Kind: frames.KindText, Text: id,
				From: &fd.Participant{Id: "cust", Role: frames.RoleCustomer}})
			a, err := e.JS.PublishAsync(subjects.Messages("acme", id), b)
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, a)
		}
		for j, a := range acks {
			select {
			case ack := <-a.Ok():
				seqs[ids[i+j]] = int64(ack.Sequence)
			case err := <-a.Err():
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		for range acks {
			m := ag.Await(frames.TypeMessage)
			if want, ok := seqs[m.GetConv()]; !ok || m.GetSeq() != want || m.GetText() != m.GetConv() {
				t.Fatalf("message %v, want seq %d", m, want)
			}
			delete(seqs, m.GetConv())
		}
	}
	if len(seqs) != 0 {
		t.Fatalf("%d messages not delivered", len(seqs))
	}
	st, err := e.JS.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().State.Consumers; c > 10 {
		t.Fatalf("%d consumers on %s", c, subjects.StreamMessages)
	}
}
