package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/natsrun"
	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// pipeAddr is what a connection over net.Pipe reports as its peer: no TCP socket behind it.
const pipeAddr = "pipe"

// TestInProcessConnection is the one-process runner's NATS connection: a service given the
// embedded server connects over an in-memory pipe (no TCP), is still authenticated and held to
// its user's permissions, and comes back in-process after the server restarts; without the
// provider it dials TCP as before (the separate-processes mode).
func TestInProcessConnection(t *testing.T) {
	t.Parallel()
	creds, err := GenerateCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsrun.Start(natsrun.Options{Port: -1, StoreDir: t.TempDir(), Log: testkit.Logger(t), Auth: creds.ServerConfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tests := []struct {
		name   string
		inproc nats.InProcessConnProvider
		pipe   bool
	}{
		{name: "embedded server: in-memory pipe", inproc: srv, pipe: true},
		{name: "no provider: TCP", inproc: nil, pipe: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.NATS{URL: srv.URL(), Name: "inproc-test", Creds: creds.Files[natsauth.Gateway],
				MaxReconnects: -1, ReconnectWait: 20 * time.Millisecond, InProcess: tc.inproc}
			nc, err := natsconn.Connect(ctx, cfg, testkit.Logger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := natsconn.WaitConnected(ctx, nc); err != nil {
				t.Fatal(err)
			}
			if got := nc.ConnectedAddr(); (got == pipeAddr) != tc.pipe {
				t.Fatalf("connected to %q, want in-process %v", got, tc.pipe)
			}
			// Permissions hold in-process: the gateway may not publish dispatcher events.
			violations := make(chan error, 4)
			nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				if errors.Is(err, nats.ErrPermissionViolation) {
					violations <- err
				}
			})
			forged := subjects.Events("demo", "c1")
			if err := nc.Publish(forged, []byte("forged")); err != nil {
				t.Fatal(err)
			}
			_ = nc.Flush()
			select {
			case err := <-violations:
				if !strings.Contains(err.Error(), forged) {
					t.Fatalf("violation %v, want one for %s", err, forged)
				}
			case <-ctx.Done():
				t.Fatalf("published %s without a permissions violation", forged)
			}
		})
	}

	// Reconnect: the provider hands out a pipe to the restarted server.
	cfg := config.NATS{URL: srv.URL(), Name: "inproc-restart", Creds: creds.Files[natsauth.Gateway],
		MaxReconnects: -1, ReconnectWait: 20 * time.Millisecond, InProcess: srv}
	nc, err := natsconn.Connect(ctx, cfg, testkit.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := natsconn.WaitConnected(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if nc.Stats().Reconnects == 0 || !nc.IsConnected() {
			return errors.New("not reconnected yet")
		}
		return nil
	})
	if got := nc.ConnectedAddr(); got != pipeAddr {
		t.Fatalf("reconnected to %q, want the in-process pipe", got)
	}
	sub, err := nc.SubscribeSync(subjects.Session("demo", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subjects.Session("demo", "u1"), []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}
