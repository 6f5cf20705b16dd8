package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestStopWhileWaitingForNATS: New does not wait for NATS (the start-up policy: Run waits),
// so a gateway whose NATS refuses the connection still gets its ops server and its listener;
// /readyz says it is not started, and a shutdown while Run waits is a clean stop that closes
// both ports (and, checked by goleak, leaves no goroutine behind).
func TestStopWhileWaitingForNATS(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg := app.DefaultConfig()
	cfg.NATS.URL = "nats://" + addr
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Gateway.SigningKeys = apptest.TestKeys
	cfg.Shutdown.Timeout = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := app.New(ctx, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("New without NATS: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, func() error {
		code, body, err := readyz(s.OpsAddr())
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || body.Checks["started"] == "ok" || body.Checks["nats"] == "ok" {
			return fmt.Errorf("/readyz while NATS is away = %d %+v", code, body)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run stopped while waiting = %v, want nil (a shutdown, not a failure)", err)
	}
	for _, a := range []string{s.Addr(), s.OpsAddr()} {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run returned", a)
		}
	}
}
