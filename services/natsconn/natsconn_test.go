package natsconn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func testConfig(url string) config.NATS {
	cfg := config.DefaultBase().NATS
	cfg.URL = url
	cfg.Name = "test"
	cfg.ReconnectWait = 20 * time.Millisecond
	return cfg
}

func TestConnectAndMetrics(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	reg := prometheus.NewRegistry()
	nc, err := Connect(t.Context(), testConfig(ns.URL()), testkit.Logger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := Ready(nc)(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	// Ready also works without a deadline.
	if err := Ready(nc)(context.Background()); err != nil {
		t.Fatalf("Ready without deadline: %v", err)
	}
	if err := nc.Publish("x", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 7 {
		t.Errorf("gathered %d metrics (%v), want 7", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if m.GetGauge() != nil {
			values[mf.GetName()] = m.GetGauge().GetValue()
		} else {
			values[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	if values["frontdesk_nats_connected"] != 1 || values["frontdesk_nats_out_msgs_total"] < 1 || values["frontdesk_nats_out_bytes_total"] < 5 {
		t.Errorf("metrics %v", values)
	}

	// A second connection with the same name on the same registry is refused, not a panic.
	if _, err := Connect(t.Context(), testConfig(ns.URL()), nil, reg); err == nil {
		t.Error("duplicate metrics registration: want error")
	}
}

// TestLogsHideCredentials connects with a token and with a user and password in the URL and
// checks no log line carries them (nats.go's ConnectedUrlRedacted leaves a token readable).
func TestLogsHideCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret string
		configure    func(*server.Options)
		url          func(base string) string
	}{
		{"token", "t0ken-xyz", func(o *server.Options) { o.Authorization = "t0ken-xyz" },
			func(base string) string { return strings.Replace(base, "nats://", "nats://t0ken-xyz@", 1) }},
		{"user and password", "hunter2", func(o *server.Options) { o.Username, o.Password = "app", "hunter2" },
			func(base string) string { return strings.Replace(base, "nats://", "nats://app:hunter2@", 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := testkit.RunNATSWith(t, tt.configure)
			core, logs := observer.New(zap.DebugLevel)
			nc, err := Connect(t.Context(), testConfig(tt.url(ns.URL())), zap.New(core), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if logs.FilterMessage("nats connected").Len() == 0 {
					return fmt.Errorf("not connected yet: %v", logs.All())
				}
				return nil
			})
			for _, e := range logs.All() {
				if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, tt.secret) {
					t.Errorf("log leaks the credential: %s", line)
				}
			}
		})
	}
}

// TestStartBeforeNATS shows a service can start while NATS is down: Connect returns, Ready
// fails, and the connection comes up by itself once the server is there.
func TestStartBeforeNATS(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	url := ns.URL()
	ns.Shutdown()

	nc, err := Connect(t.Context(), testConfig(url), testkit.Logger(t), nil)
	if err != nil {
		t.Fatalf("Connect with NATS down: %v", err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := Ready(nc)(ctx); err == nil {
		t.Fatal("Ready with NATS down: want error")
	}
	if err := WaitConnected(ctx, nc); err == nil {
		t.Fatal("WaitConnected with NATS down: want error")
	}

	ns.Restart(t)
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := WaitConnected(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if err := Ready(nc)(ctx); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if err := WaitConnected(ctx, nc); err == nil {
		t.Fatal("WaitConnected on a closed connection: want error")
	}
}

func TestConnectCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(ctx, testConfig(nats.DefaultURL), nil, nil); err == nil {
		t.Fatal("want error")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	wait := 100 * time.Millisecond
	tests := []struct {
		attempts int
		lo, hi   time.Duration
	}{
		{attempts: 1, lo: 50 * time.Millisecond, hi: 100 * time.Millisecond},
		{attempts: 2, lo: 100 * time.Millisecond, hi: 200 * time.Millisecond},
		{attempts: 3, lo: 200 * time.Millisecond, hi: 400 * time.Millisecond},
		{attempts: 50, lo: 200 * time.Millisecond, hi: 400 * time.Millisecond},
	}
	for _, tt := range tests {
		for range 100 {
			if d := backoff(wait, tt.attempts); d < tt.lo || d > tt.hi {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.attempts, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestDrain(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	nc, err := Connect(t.Context(), testConfig(ns.URL()), testkit.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1)
	if _, err := nc.Subscribe("d", func(*nats.Msg) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("d", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := Drain(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if !nc.IsClosed() {
		t.Fatal("not closed after Drain")
	}
	select {
	case <-got:
	default:
		t.Fatal("the published message was not handled before closing")
	}
	if err := Drain(ctx, nc); err != nil {
		t.Fatalf("second Drain: %v", err)
	}
}
