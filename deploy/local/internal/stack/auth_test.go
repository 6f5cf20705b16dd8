package stack

import (
	"context"
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
		gw.Close()
		srv.Shutdown()
	}
}
