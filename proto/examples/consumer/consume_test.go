package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestConsumeCountsEveryMessageOnce runs the example against a real JetStream server with the
// declared topology: messages of two tenants are counted once each, a duplicate publish (same
// Nats-Msg-Id) is not counted, a garbage payload does not block the stream, and a second
// consumer process with the same durable resumes where the first stopped.
func TestConsumeCountsEveryMessageOnce(t *testing.T) {
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)

	publish := func(tenant, conv, role, clientID string) {
		t.Helper()
		m := &fd.Message{Id: "m_" + clientID, ClientId: clientID, Tenant: tenant, Conv: conv,
			From: &fd.Participant{Id: "u1", Role: role}, Kind: "text", Text: "hello"}
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(subjects.Messages(tenant, conv))
		msg.Data = data
		msg.Header.Set(nats.MsgIdHdr, subjects.DedupID(tenant, "u1", clientID))
		if _, err := js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		publish("acme", "c_1", "customer", fmt.Sprint("a", i))
	}
	publish("acme", "c_1", "customer", "a0") // retried send: deduplicated by JetStream
	publish("globex", "c_2", "agent", "g0")
	if err := nc.Publish(subjects.Messages("acme", "c_1"), []byte("\xff not protobuf")); err != nil {
		t.Fatal(err)
	}
	publish("globex", "c_2", "bot", "g1")

	counts := NewCounts()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Consume(ctx, js, "analytics", counts) }()
	want := map[string]map[string]int64{"acme": {"customer": 5}, "globex": {"agent": 1, "bot": 1}}
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := counts.Snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("counts %v, want %v", got, want)
		}
		return nil
	})
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Consume returned %v", err)
	}

	// A new replica of the same durable sees only what arrived since: nothing is redelivered.
	publish("acme", "c_3", "customer", "late")
	counts2 := NewCounts()
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- Consume(ctx2, js, "analytics", counts2) }()
	defer func() {
		cancel2()
		if err := <-done2; err != context.Canceled {
			t.Errorf("second replica's Consume returned %v", err)
		}
	}()
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := counts2.Snapshot(); fmt.Sprint(got) != fmt.Sprint(map[string]map[string]int64{"acme": {"customer": 1}}) {
			return fmt.Errorf("second replica counts %v", got)
		}
		return nil
	})
}
