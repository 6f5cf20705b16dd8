package pg_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/pg"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestConnect(t *testing.T) {
	t.Parallel()
	cfg := config.DefaultDatabase()
	cfg.URL = testkit.Database(t)
	cfg.MaxConns = 4
	cfg.MinConns = 1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool, err := pg.Connect(ctx, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Ready(pool)(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := pool.Config().MaxConns; got != 4 {
		t.Errorf("MaxConns = %d", got)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := pg.Connect(ctx, config.Database{URL: "postgres://u:s3cret@host:notaport/db"}, nil)
	if err == nil {
		t.Fatal("bad URL: want error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}

	// The pool is lazy: a service starts while Postgres is down and Ready reports it.
	pool, err := pg.Connect(ctx, config.Database{URL: "postgres://u@127.0.0.1:1/db?connect_timeout=1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pg.Ready(pool)(rctx); err == nil {
		t.Fatal("Ready with no server: want error")
	}
}
