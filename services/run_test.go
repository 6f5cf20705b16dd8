package services_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestExampleRun runs the example composition root against a real server: it starts, seeds
// and loads tenants, and shuts down cleanly when its context ends.
func TestExampleRun(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	testkit.Provision(t, js) // the provisioning step
	seed := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(seed, []byte("tenants:\n  - id: demo\n    name: Demo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FRONTDESK_NATS_URL":     ns.URL(),
		"FRONTDESK_OPS_ADDR":     "127.0.0.1:0",
		"FRONTDESK_TENANTS_FILE": seed,
		"FRONTDESK_LOG_LEVEL":    "debug",
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"example"}, func(k string) string { return env[k] }, &out) }()

	testkit.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(out.String(), `"tenants":["demo"]`) {
			return errors.New("tenants not loaded yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	for _, want := range []string{"shutdown complete", `"clean":true`, `"step":"nats"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, out.String())
		}
	}
}
