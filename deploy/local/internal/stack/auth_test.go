package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/natsrun"
	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestLocalNATSEnforcesAccounts is the local runner's NATS: anonymous clients are refused, the
// provisioner creates the topology, a service may look it up but not rewrite it, and a second
// run (same seeds, new users) finds the same account's store.
func TestLocalNATSEnforcesAccounts(t *testing.T) {
	t.Parallel()
	dir, store := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := range 2 {
		creds, err := GenerateCredentials(dir)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := natsrun.Start(natsrun.Options{Port: -1, StoreDir: store, Log: testkit.Logger(t), Auth: creds.ServerConfig})
		if err != nil {
			t.Fatal(err)
		}
		if nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatalf("round %d: anonymous connection accepted", round)
		}
		conn := func(user string) (*nats.Conn, jetstream.JetStream) {
			nc, err := nats.Connect(srv.URL(), nats.UserCredentials(creds.Files[user]))
			if err != nil {
				t.Fatalf("round %d: connect as %s: %v", round, user, err)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			return nc, js
		}
		top := streams.Declared(streams.Options{Replicas: 1})
		if round == 0 {
			prov, _ := conn(natsauth.Provisioner)
			if err := Provision(ctx, prov, 1); err != nil {
				t.Fatalf("provision: %v", err)
			}
			prov.Close()
			admin, ajs := conn(natsauth.Admin)
			if _, err := ajs.Publish(ctx, subjects.Messages("demo", "c1"), []byte("kept")); err != nil {
				t.Fatal(err)
			}
			admin.Close()
		}
		gw, gjs := conn(natsauth.Gateway)
		if err := streams.Check(ctx, gjs, top.Only(subjects.StreamMessages, subjects.BucketOpen)); err != nil {
			t.Fatalf("round %d: gateway looks up its streams: %v", round, err)
		}
		s, err := gjs.Stream(ctx, subjects.StreamMessages)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.CachedInfo().State.Msgs; n != 1 {
			t.Fatalf("round %d: FD_MESSAGES holds %d messages, want 1", round, n)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = 1
		short, stop := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err = gjs.UpdateStream(short, cfg)
		stop()
		if err == nil {
			t.Fatalf("round %d: the gateway updated FD_MESSAGES: %v", round, err)
		}
		if round == 1 { // last: it stores a message the count above would see
			gatewayCannotForge(t, srv.URL(), creds.Files[natsauth.Gateway])
		}
		gw.Close()
		srv.Shutdown()
	}
}

// gatewayCannotForge: with the runner's gateway credentials, dispatcher events (core or
// stored) and frames to a user's notice subject are refused with a permissions violation, while
// what the gateway publishes in its traffic (messages, commands, session announcements, live
// frames) still goes through.
func gatewayCannotForge(t *testing.T, url, credsFile string) {
	t.Helper()
	violations := make(chan string, 16)
	nc, err := nats.Connect(url, nats.UserCredentials(credsFile), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			violations <- err.Error()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, subject := range []string{subjects.Events("demo", "c1"), subjects.User("demo", "u_other")} {
		if err := nc.Publish(subject, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-violations:
			if !strings.Contains(v, subject) {
				t.Fatalf("violation %q, want one for %s", v, subject)
			}
		case <-ctx.Done():
			t.Fatalf("the gateway published on %s without a permissions violation", subject)
		}
	}
	short, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = js.Publish(short, subjects.Events("demo", "c1"), []byte("forged assigned"))
	stop()
	if err == nil {
		t.Fatal("the gateway stored an event")
	}
	<-violations

	// Delivered back to the gateway's own subscriptions: the server let them through.
	for _, subject := range []string{subjects.Session("demo", "u1"), subjects.Live("demo", "c1")} {
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subject, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			t.Fatalf("the gateway's publish on %s did not arrive: %v", subject, err)
		}
		_ = sub.Unsubscribe()
	}
	if _, err := js.Publish(ctx, subjects.Messages("demo", "c1"), []byte("hello")); err != nil {
		t.Fatalf("the gateway cannot store a message: %v", err)
	}
	if _, err := js.Publish(ctx, subjects.ConvCommands("demo", "c1"), []byte("open"), jetstream.WithMsgID("open/c1")); err != nil {
		t.Fatalf("the gateway cannot store a command: %v", err)
	}
}
