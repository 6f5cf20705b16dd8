package pgrun

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestStartReuse creates a cluster, writes a row, stops it and starts it again from the same
// directory: the row is still there, as `make run` expects on its next run.
func TestStartReuse(t *testing.T) {
	if _, err := FindBin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// t.TempDir is private to root; postgres runs as another user when we are root.
	base := testkit.ReachableTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := Options{Dir: filepath.Join(base, "postgres"), Port: -1, Log: testkit.Logger(t)}

	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	execSQL(t, c.URL(), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')`)

	// A second Start while it runs reuses the running server.
	again, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Port() != c.Port() {
		t.Fatalf("reused port %d, want %d", again.Port(), c.Port())
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c, err = Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// TestPrivateParent puts the data directory under a directory only root may enter: as root,
// the cluster moves where the postgres user can reach it, and is found there again.
func TestPrivateParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	if _, err := FindBin(); err != nil {
		t.Skip(err)
	}
	base := t.TempDir() // 0700, root's
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := Options{Dir: filepath.Join(base, "postgres"), Port: -1, Log: testkit.Logger(t)}
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(c.Dir()) })
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if c.Dir() == opts.Dir {
		t.Fatalf("cluster kept in %s, which postgres cannot reach", c.Dir())
	}
	again, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir() != c.Dir() || again.Port() != c.Port() {
		t.Fatalf("second start: %s:%d, want the running %s:%d", again.Dir(), again.Port(), c.Dir(), c.Port())
	}
}
