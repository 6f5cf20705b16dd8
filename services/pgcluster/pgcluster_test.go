//go:build unix

package pgcluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/pgcluster"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func bin(t *testing.T) string {
	t.Helper()
	b, err := pgcluster.FindBin("FRONTDESK_TEST_PG_BIN")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	return b
}

func query(ctx context.Context, url, sql string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var v string
	return v, conn.QueryRow(ctx, sql).Scan(&v)
}

// A cluster is made in a fresh directory, started, used, stopped and started again on the
// same port with its data; as root it belongs to and runs as an unprivileged user.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.New(filepath.Join(testkit.ReachableTempDir(t), "pg"), bin(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Ephemeral = true
	t.Cleanup(func() { _ = c.Remove(context.Background()) })
	if (os.Geteuid() == 0) != (c.User != nil) {
		t.Fatalf("user %+v as uid %d", c.User, os.Geteuid())
	}
	if c.Initialized() {
		t.Fatal("initialized before Init")
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.Initialized() {
		t.Fatal("not initialized after Init")
	}
	if c.User != nil {
		fi, err := os.Stat(c.Data())
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != c.User.UID {
			t.Fatalf("data directory owned by %v, want %s", fi.Sys(), c.User.Name)
		}
	}
	if _, ok := c.Running(ctx); ok {
		t.Fatal("running before Start")
	}
	if err := c.Start(ctx, pgcluster.StartOptions{MaxConnections: 50}); err != nil {
		t.Fatal(err)
	}
	port := c.Port
	if p, ok := c.Running(ctx); !ok || p != port {
		t.Fatalf("running = %d, %v; want port %d", p, ok, port)
	}
	if err := c.CreateDatabase(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "kept"); err != nil {
		t.Fatalf("second create: %v", err)
	}
	if got, err := query(ctx, c.URL("kept"), "SELECT current_setting('fsync') || ' ' || current_setting('max_connections')"); err != nil || got != "off 50" {
		t.Fatalf("settings = %q, %v", got, err)
	}
	conn, err := pgx.Connect(ctx, c.URL("kept"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Running(ctx); ok {
		t.Fatal("running after Stop")
	}
	if _, err := query(ctx, c.URL("kept"), "SELECT 'x'"); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := c.Init(ctx); err != nil {
		t.Fatalf("Init of an initialised cluster: %v", err)
	}
	if err := c.Start(ctx, pgcluster.StartOptions{Port: port, ExactPort: true}); err != nil {
		t.Fatal(err)
	}
	if c.Port != port {
		t.Fatalf("restarted on %d, want %d", c.Port, port)
	}
	if got, err := query(ctx, c.URL("kept"), "SELECT v FROM t"); err != nil || got != "hello" {
		t.Fatalf("after restart: %q, %v", got, err)
	}

	if err := c.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s not removed: %v", c.Dir, err)
	}
	if _, err := query(ctx, c.URL("kept"), "SELECT 'x'"); err == nil {
		t.Fatal("server still answers after Remove")
	}
}

// A taken port: Start moves to a free one, unless ExactPort.
func TestPortTaken(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := bin(t)
	parent := testkit.ReachableTempDir(t)
	first, err := pgcluster.New(filepath.Join(parent, "a"), b)
	if err != nil {
		t.Fatal(err)
	}
	first.Ephemeral = true
	t.Cleanup(func() { _ = first.Remove(context.Background()) })
	if err := first.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, pgcluster.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	second := *first
	second.Dir = filepath.Join(parent, "b")
	t.Cleanup(func() { _ = second.Remove(context.Background()) })
	if err := second.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Start(ctx, pgcluster.StartOptions{Port: first.Port, ExactPort: true}); err == nil {
		t.Fatal("started on a taken port with ExactPort")
	}
	if err := second.Start(ctx, pgcluster.StartOptions{Port: first.Port}); err != nil {
		t.Fatal(err)
	}
	if second.Port == first.Port {
		t.Fatalf("both on port %d", first.Port)
	}
}

// As root, a directory the unprivileged user cannot reach is refused with a clear error.
func TestUnreachableDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	c, err := pgcluster.New(filepath.Join(t.TempDir(), "pg"), bin(t)) // t.TempDir is 0700
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "not reachable by user") {
		t.Fatalf("init = %v", err)
	}
}

func TestFindBinEnv(t *testing.T) {
	t.Setenv("FRONTDESK_PGCLUSTER_TEST_BIN", t.TempDir())
	if _, err := pgcluster.FindBin("FRONTDESK_PGCLUSTER_TEST_BIN"); err == nil || !strings.Contains(err.Error(), "FRONTDESK_PGCLUSTER_TEST_BIN") {
		t.Fatalf("FindBin with an empty directory = %v", err)
	}
}
