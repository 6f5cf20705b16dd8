package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string // "" = valid
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "no partitions", mutate: func(c *Config) { c.Dispatcher.Partitions = 0 }, key: "dispatcher.partitions"},
		{name: "zero grace", mutate: func(c *Config) { c.Dispatcher.Grace = 0 }, key: "dispatcher.grace"},
		{name: "lease shorter than ticks", mutate: func(c *Config) { c.Dispatcher.LeaseTTL = 200 * time.Millisecond }, key: "dispatcher.lease_ttl"},
		{name: "negative starvation", mutate: func(c *Config) { c.Dispatcher.StarveAfter = -1 }, key: "dispatcher.starve_after"},
		{name: "no missed offers", mutate: func(c *Config) { c.Dispatcher.MaxMissedOffers = 0 }, key: "dispatcher.max_missed_offers"},
		{name: "bad nats url", mutate: func(c *Config) { c.NATS.URL = "http://x" }, key: "nats.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %v does not name %s", err, tt.key)
			}
		})
	}
}

func TestServiceOps(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	cfg := DefaultConfig()
	cfg.NATS.URL = srv.URL()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Dispatcher.LeaseTTL = time.Second
	cfg.Shutdown.Timeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// New does not wait for NATS or the topology: Run does, with /readyz saying so.
	s, err := New(ctx, cfg, testkit.Logger(t).Named("service"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.OpsAddr() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for the streams") {
			return fmt.Errorf("readyz before the topology: %d %s", code, body)
		}
		return nil
	})
	// `dispatcher provision` creates the topology the service waits for.
	if err := Provision(ctx, cfg, testkit.Logger(t).Named("provision")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("run ended before starting: %v", err)
	}
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if code, body := get("/readyz"); code != http.StatusOK {
			return fmt.Errorf("readyz %d %s", code, body)
		}
		if _, body := get("/metrics"); !strings.Contains(body, "frontdesk_dispatcher_partitions_owned 16") {
			return fmt.Errorf("partitions not all owned yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no graceful stop")
	}
}
