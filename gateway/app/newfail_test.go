package app_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestNewFailsCleanly: when the gateway cannot start (here: its NATS server refuses the
// connection), New returns the error and stops what it started, without panicking on its
// cleanup (a failing return used to leave the cleanup a nil service).
func TestNewFailsCleanly(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // Connect retries until ctx ends
	defer cancel()
	s, err := app.New(ctx, cfg, testkit.Logger(t))
	if err == nil {
		t.Fatalf("New = %v, want an error", s)
	}
}
