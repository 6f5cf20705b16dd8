package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/pgcluster"
)

// helperEnv makes the test binary act as a throwaway-cluster owner that exits without
// cleaning up, for TestThrowawayWatchdog.
const helperEnv = "FRONTDESK_TESTKIT_HELPER"

func requirePGBin(t *testing.T) {
	t.Helper()
	if _, err := pgcluster.FindBin(EnvPGBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("no throwaway cluster possible: %v", err)
	}
}

// TestThrowawayCluster exercises the path taken when no server runs (forced in CI with
// FRONTDESK_TEST_PG_THROWAWAY=1): initdb as an unprivileged user when root, start, create and
// drop a database, stop and remove everything.
func TestThrowawayCluster(t *testing.T) {
	t.Parallel()
	requirePGBin(t)
	c, err := startCluster(300)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.stop()
		}
	})

	dbURL, drop, err := createDatabase(c.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var dataDir, db string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory'), current_database()").Scan(&dataDir, &db); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dataDir, c.Dir) || !strings.HasPrefix(db, "fd_test_") {
		t.Errorf("data directory %s database %s", dataDir, db)
	}
	// drop must succeed even with a connection left open.
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if exists(t, c.url, db) {
		t.Errorf("database %s still exists after drop", db)
	}

	stopped = true
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s not removed: %v", c.Dir, err)
	}
	if listening(c.Port) {
		t.Errorf("postgres still listening on %d", c.Port)
	}
}

// TestThrowawayWatchdog starts a cluster from a child test binary that exits without
// stopping it, as a binary killed by a timeout would, and checks the watchdog cleans up.
func TestThrowawayWatchdog(t *testing.T) {
	t.Parallel()
	requirePGBin(t)
	if testing.Short() {
		t.Skip("starts a second throwaway cluster")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestThrowawayHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var dir string
	var port int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "CLUSTER %s %d", &dir, &port); err == nil {
			break
		}
	}
	if dir == "" || port == 0 {
		t.Fatalf("helper printed no cluster:\n%s", out)
	}
	CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if listening(port) {
			return fmt.Errorf("postgres still listening on %d", port)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still there", dir)
		}
		return nil
	})
}

// TestThrowawayHelper is the child of TestThrowawayWatchdog.
func TestThrowawayHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process only")
	}
	c, err := startCluster(300)
	if err != nil {
		t.Fatal(err)
	}
	if !listening(c.Port) {
		t.Fatal("cluster not listening")
	}
	// Return without stopping anything: the cluster is not the shared one, so Main leaves it
	// and only the watchdog can clean up after this binary exits.
	fmt.Printf("CLUSTER %s %d\n", filepath.Clean(c.Dir), c.Port)
	// Exit as a killed binary would: no Main, no cleanups (the watchdog's reaper is still
	// running, which Main's leak check would rightly report).
	os.Exit(0)
}

func exists(t *testing.T, adminURL, db string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func listening(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// TestDatabaseDropped checks the public path: a database made by Database is gone once its
// test ended.
func TestDatabaseDropped(t *testing.T) {
	t.Parallel()
	var dbURL string
	t.Run("inner", func(t *testing.T) {
		dbURL = Database(t)
	})
	if dbURL == "" {
		t.Skip("no database")
	}
	name := strings.TrimPrefix(dbURL[strings.LastIndex(dbURL, "/"):], "/")
	name, _, _ = strings.Cut(name, "?")
	if exists(t, shared.adminURL, name) {
		t.Fatalf("database %s not dropped after its test", name)
	}
}

// TestStoppablePostgres stops and starts a private server: clients fail while it is down,
// and it comes back on the same URL with its data.
func TestStoppablePostgres(t *testing.T) {
	t.Parallel()
	requirePGBin(t)
	pg := StoppablePostgres(t)
	dbURL := pg.CreateDatabase(t, "kept")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func() error {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (v int); INSERT INTO t VALUES (1)")
		return err
	}
	if err := exec(); err != nil {
		t.Fatal(err)
	}
	pg.Stop(t)
	if err := exec(); err == nil {
		t.Fatal("a stopped server answered")
	}
	pg.Start(t)
	if err := exec(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows after restart = %d, %v", n, err)
	}
}
