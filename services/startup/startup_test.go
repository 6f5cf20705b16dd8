package startup_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func writeTenants(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func baseConfig(url string) config.Base {
	cfg := config.DefaultBase()
	cfg.NATS.URL = url
	cfg.NATS.Name = "startup-test"
	cfg.Ops.Addr = "127.0.0.1:0"
	return cfg
}

func TestBeginStopsWhatItStartedInOrder(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	log := testkit.Logger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	stack := lifecycle.NewStack(log)
	drained := false
	b, err := startup.Begin(ctx, stack, baseConfig(ns.URL()), "test", log, ops.NewRegistry(),
		startup.Options{BeforeDrain: func() { drained = true }})
	if err != nil {
		t.Fatal(err)
	}
	if err := natsconn.WaitConnected(ctx, b.NC); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.AccountInfo(ctx); err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	// Not started by Begin: the service adds its checks first.
	if err := b.Ops.Start(ctx); err != nil {
		t.Fatal(err)
	}
	body, ready := b.Ops.Check(ctx)
	if !ready || body.Checks["nats"] != "ok" {
		t.Fatalf("readiness %v %+v, want ready with a passing nats check", ready, body)
	}
	if err := stack.Shutdown(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !drained || !b.NC.IsClosed() {
		t.Fatalf("before drain ran: %v, connection closed: %v", drained, b.NC.IsClosed())
	}
}

func TestTenantsFailsAtOnceOnAFileThatDoesNotLoad(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	log := testkit.Logger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	stack := lifecycle.NewStack(log)
	t.Cleanup(func() { _ = stack.Shutdown(context.Background(), 10*time.Second) })
	// No bucket either: the file is the error that retrying cannot fix, so it is not retried.
	_, err := startup.Tenants(ctx, stack, js, writeTenants(t, "tenants: [{id: \"bad.id\"}]\n"), ops.New("127.0.0.1:0", log, nil), log)
	if !errors.Is(err, tenants.ErrFile) {
		t.Fatalf("err = %v, want tenants.ErrFile", err)
	}
	if ctx.Err() != nil {
		t.Fatal("retried until the context ended")
	}
}

// watched starts a NATS server for the test and returns a connection, a logger whose warnings
// are also kept in logs (to see a retry happen), and the test's context bounded to 30 s.
func watched(t *testing.T) (*nats.Conn, jetstream.JetStream, *zap.Logger, *observer.ObservedLogs, context.Context) {
	t.Helper()
	ns := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, ns.URL())
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(zapcore.NewTee(testkit.Logger(t).Core(), core))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return nc, js, log, logs, ctx
}

func TestTenantsRetriesUntilTheBucketIsThere(t *testing.T) {
	t.Parallel()
	_, js, log, logs, ctx := watched(t)
	stack := lifecycle.NewStack(log)
	srv := ops.New("127.0.0.1:0", log, nil)
	type result struct {
		store *tenants.Store
		err   error
	}
	done := make(chan result, 1)
	go func() {
		s, err := startup.Tenants(ctx, stack, js, writeTenants(t, "tenants: [{id: demo, name: Demo}]\n"), srv, log)
		done <- result{s, err}
	}()
	testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if logs.FilterMessageSnippet("open tenants failed").Len() == 0 {
			return errors.New("no failed attempt logged yet")
		}
		return nil
	})
	if err := streams.Provision(ctx, js, streams.Declared(streams.Options{}).Only(subjects.BucketTenants)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, ok := r.store.Get("demo"); !ok {
		t.Fatal("demo not seeded and watched")
	}
	if body, _ := srv.Check(ctx); body.Checks["tenants"] != "ok" {
		t.Fatalf("checks %+v, want a passing tenants check", body.Checks)
	}
	if err := stack.Shutdown(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.store.Done():
	default:
		t.Fatal("the tenants step did not wait for the watch")
	}
}

func TestGateFailsItsCheckUntilOpened(t *testing.T) {
	t.Parallel()
	log := testkit.Logger(t)
	srv := ops.New("127.0.0.1:0", log, nil)
	g := startup.NewGate(srv, "started", "starting: waiting")
	if body, ready := srv.Check(t.Context()); ready || body.Checks["started"] != "starting: waiting" {
		t.Fatalf("before Open: ready %v, checks %+v; want unready with the reason", ready, body.Checks)
	}
	select {
	case <-g.Opened():
		t.Fatal("Opened closed before Open")
	default:
	}
	g.Open()
	g.Open() // a second Open must not close the channel twice
	<-g.Opened()
	if body, ready := srv.Check(t.Context()); !ready || body.Checks["started"] != "ok" {
		t.Fatalf("after Open: ready %v, checks %+v; want ready", ready, body.Checks)
	}
}

func TestTopologyWaitsForTheProvisioner(t *testing.T) {
	t.Parallel()
	nc, js, log, logs, ctx := watched(t)
	done := make(chan error, 1)
	go func() { done <- startup.Topology(ctx, nc, js, 1, log, subjects.StreamMessages, subjects.BucketTenants) }()
	testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if logs.FilterMessageSnippet("waiting for the streams").Len() == 0 {
			return errors.New("no wait logged yet")
		}
		return nil
	})
	// A service told to stop while it waits stops waiting (before the provisioner came).
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	if err := startup.Topology(cctx, nc, js, 1, log, subjects.StreamMessages); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
	testkit.Provision(t, js)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestShutdownWhileNATSIsAway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		publish bool // a publish waits in the reconnect buffer
		wantErr bool
	}{
		{name: "nothing buffered: a clean stop", publish: false, wantErr: false},
		{name: "publishes lost: reported", publish: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "nats://" + ln.Addr().String()
			ln.Close() // nothing listens there: the connection keeps retrying
			log := testkit.Logger(t)
			stack := lifecycle.NewStack(log)
			b, err := startup.Begin(t.Context(), stack, baseConfig(url), "test", log, ops.NewRegistry(), startup.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.publish {
				if err := b.NC.Publish("x", []byte("lost")); err != nil {
					t.Fatal(err)
				}
			}
			err = stack.Shutdown(t.Context(), 10*time.Second)
			if (err != nil) != tt.wantErr {
				t.Fatalf("shutdown = %v, want an error: %v", err, tt.wantErr)
			}
			if !b.NC.IsClosed() {
				t.Fatal("connection left open")
			}
		})
	}
}
