package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
)

// TestBadTenantsFileFailsTheStart: a tenants file that does not load is a configuration
// error; the bridge stops with it instead of retrying until it is killed.
func TestBadTenantsFileFailsTheStart(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	_, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	file := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(file, []byte("tenants: [{id: \"bad.id\"}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	cfg.NATS.URL = n.URL()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Shutdown.Timeout = 5 * time.Second
	cfg.Tenants.File = file
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := app.New(ctx, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); !errors.Is(err, tenants.ErrFile) || ctx.Err() != nil {
		t.Fatalf("run = %v (context %v), want tenants.ErrFile before the context ends", err, ctx.Err())
	}
}
