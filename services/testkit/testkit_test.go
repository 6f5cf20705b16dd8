package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestNATSRestartKeepsPortAndData(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	url := ns.URL()
	nc, js := testkit.Connect(t, url)
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, subjects.Messages("demo", "c1"), []byte("before")); err != nil {
		t.Fatal(err)
	}

	ns.Restart(t)
	if ns.URL() != url || ns.Server() == nil {
		t.Fatalf("URL after restart %s, want %s", ns.URL(), url)
	}
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !nc.IsConnected() {
			return errors.New("client not reconnected")
		}
		// A request sent while the server was still starting can go unanswered: give each
		// attempt its own deadline.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := js.Stream(actx, subjects.StreamMessages)
		if err != nil {
			return err
		}
		if n := s.CachedInfo().State.Msgs; n != 1 {
			return fmt.Errorf("%d messages after restart, want 1", n)
		}
		return nil
	})
}

func TestRunNATSWithOptions(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "fd", Password: "pw"}}
	})
	if _, err := nats.Connect(ns.URL(), nats.NoReconnect()); err == nil {
		t.Fatal("connect without credentials: want authorization error")
	}
	nc, err := nats.Connect(ns.URL(), nats.UserInfo("fd", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := testkit.RunCluster(t, 3)
	if c.Nodes() != 3 {
		t.Fatalf("nodes = %d", c.Nodes())
	}
	_, js := testkit.Connect(t, c.URLs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The production topology (R3) provisions on a cluster, twice.
	for range 2 {
		if err := streams.Provision(ctx, js, streams.Declared(streams.Options{Replicas: 3})); err != nil {
			t.Fatalf("provision R3: %v", err)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "r3.x", []byte("m"), jetstream.WithMsgID(fmt.Sprint(n)))
		return err
	}
	if err := publish(1); err != nil {
		t.Fatal(err)
	}

	// Stop the node that leads the stream: the worst case.
	s, err := js.Stream(ctx, "R3")
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	stopped := -1
	for i := range c.Nodes() {
		if c.Node(i).Server().Name() == leader {
			stopped = i
		}
	}
	if stopped < 0 {
		t.Fatalf("leader %q is not a node", leader)
	}
	c.Node(stopped).Shutdown()
	testkit.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error { return publish(2) })

	c.Node(stopped).Restart(t)
	c.WaitJetStream(t)
	testkit.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 2 {
			return fmt.Errorf("%d messages, want 2", info.State.Msgs)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current {
				return fmt.Errorf("replica %s not current", r.Name)
			}
		}
		if len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("%d followers, want 2", len(info.Cluster.Replicas))
		}
		return nil
	})
}

func TestDatabase(t *testing.T) {
	t.Parallel()
	url := testkit.Database(t)
	other := testkit.Database(t)
	if url == other {
		t.Fatal("two calls returned the same database")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if len(name) != len("fd_test_")+16 || name[:8] != "fd_test_" {
		t.Fatalf("database name %q", name)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int primary key)"); err != nil {
		t.Fatal(err)
	}
}

func TestCheckFor(t *testing.T) {
	t.Parallel()
	n := 0
	testkit.CheckFor(t, time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("fn called %d times", n)
	}
}
