package convo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func setup(t *testing.T) (jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	n := testkit.RunNATS(t)
	_, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	kv, err := js.KeyValue(context.Background(), subjects.BucketConversations)
	if err != nil {
		t.Fatal(err)
	}
	return js, kv
}

func put(t *testing.T, kv jetstream.KeyValue, conv, state string) uint64 {
	t.Helper()
	data, _ := proto.Marshal(&fd.Conversation{Tenant: "acme", Conv: conv, State: state})
	rev, err := kv.Put(context.Background(), subjects.ConversationKey("acme", conv), data)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestGetAndFence(t *testing.T) {
	t.Parallel()
	_, kv := setup(t)
	ctx := context.Background()
	if _, err := Get(ctx, kv, "acme", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing conversation: %v", err)
	}
	rev := put(t, kv, "c1", frames.StateBot)
	st, err := Get(ctx, kv, "acme", "c1")
	if err != nil || st.Revision != rev || st.Conv.GetState() != frames.StateBot {
		t.Fatalf("state %+v, %v", st, err)
	}

	f := NewFence(testkit.Logger(t))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = f.Run(wctx, kv) }()
	<-f.Ready()

	key := subjects.ConversationKey("acme", "c1")
	g1, release1 := f.Guard(ctx, key, rev)
	defer release1()
	g2, release2 := f.Guard(ctx, key, rev)
	release2() // a released guard is not fenced later
	other, releaseOther := f.Guard(ctx, subjects.ConversationKey("acme", "c2"), put(t, kv, "c2", frames.StateBot))
	defer releaseOther()

	newRev := put(t, kv, "c1", frames.StateAssigned)
	select {
	case <-g1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("guard not cancelled by the takeover")
	}
	if !Fenced(g1) {
		t.Fatalf("cause %v", context.Cause(g1))
	}
	if Fenced(g2) {
		t.Fatal("released guard reported fenced")
	}
	if other.Err() != nil {
		t.Fatal("another conversation's guard was cancelled")
	}
	// A guard taken under a revision the fence already saw pass is fenced at once.
	stale, releaseStale := f.Guard(ctx, key, rev)
	defer releaseStale()
	if !Fenced(stale) {
		t.Fatal("stale guard not fenced")
	}
	current, releaseCurrent := f.Guard(ctx, key, newRev)
	defer releaseCurrent()
	if current.Err() != nil {
		t.Fatal("guard at the current revision cancelled")
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	js, _ := setup(t)
	ctx := context.Background()
	publish := func(conv, text string) uint64 {
		t.Helper()
		data, _ := proto.Marshal(&fd.Message{Tenant: "acme", Conv: conv, Text: text, From: &fd.Participant{Role: frames.RoleCustomer}})
		msg := &nats.Msg{Subject: subjects.Messages("acme", conv), Data: data, Header: nats.Header{"X-Test": {text}}}
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	var seqs []uint64
	for i := range 6 {
		seqs = append(seqs, publish("c1", fmt.Sprint("m", i)))
		publish("c2", "noise")
	}
	st, err := js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistory(st, 1)
	texts := func(ts []Turn) string {
		var s string
		for _, tr := range ts {
			s += tr.Msg.GetText() + " "
		}
		return s
	}
	tests := []struct {
		name string
		upTo uint64
		n    int
		want string
	}{
		{"first read walks from the start", seqs[3], 10, "m0 m1 m2 m3 "},
		{"newest n", seqs[5], 2, "m4 m5 "},
		{"cached view, older bound", seqs[2], 10, "m0 m1 m2 "},
	}
	for _, tt := range tests {
		got, err := h.Turns(ctx, "acme", "c1", tt.upTo, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if texts(got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, texts(got), tt.want)
		}
	}
	if got, _ := h.Turns(ctx, "acme", "c1", seqs[5], 1); got[0].Header.Get("X-Test") != "m5" {
		t.Errorf("header not kept: %v", got[0].Header)
	}
	// c2 evicts c1 from a one-entry cache; c1 reads again from the stream.
	if got, _ := h.Turns(ctx, "acme", "c2", seqs[5]+1, 10); len(got) != 6 {
		t.Errorf("c2 has %d turns", len(got))
	}
	if got, _ := h.Turns(ctx, "acme", "c1", seqs[5], 10); texts(got) != "m0 m1 m2 m3 m4 m5 " {
		t.Errorf("after eviction %q", texts(got))
	}
	after, err := h.After(ctx, "acme", "c1", seqs[3], 10)
	if err != nil || texts(after) != "m4 m5 " {
		t.Fatalf("after %q, %v", texts(after), err)
	}
	last, err := h.Latest(ctx, "acme", "c1")
	if err != nil || last != seqs[5] {
		t.Fatalf("latest %d, %v", last, err)
	}
	if last, err := h.Latest(ctx, "acme", "none"); err != nil || last != 0 {
		t.Fatalf("latest of empty %d, %v", last, err)
	}
}
