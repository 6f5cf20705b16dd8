package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/pgcluster"
)

// Environment variables read by Database.
const (
	// EnvDatabaseURL names a Postgres server to use (a postgres:// URL of a role that may
	// create databases). When set it must work: tests fail rather than skip.
	EnvDatabaseURL = "FRONTDESK_TEST_DATABASE_URL"
	// EnvThrowaway set to 1 skips looking for a running server and starts a throwaway cluster.
	EnvThrowaway = "FRONTDESK_TEST_PG_THROWAWAY"
	// EnvPGBin names the directory holding initdb and pg_ctl, when they are neither on PATH
	// nor in /usr/lib/postgresql/*/bin.
	EnvPGBin = "FRONTDESK_TEST_PG_BIN"
)

// errNoPostgres means no server was found and none could be started: tests skip (or fail
// when CI=true).
var errNoPostgres = errors.New("no postgres available")

// shared is the Postgres server of this test binary, found or started once. It is the one
// package-level state of testkit: a test binary is one process and starting a cluster per
// test would cost seconds each.
var shared struct {
	once     sync.Once
	adminURL string
	err      error
	cluster  *pgCluster // nil unless a throwaway cluster was started
	mu       sync.Mutex // guards cluster against a concurrent Main stop
}

// Database creates a fresh, empty database named fd_test_<random> and returns its URL; the
// database is dropped in t.Cleanup (closing connections still open). The server is, in order:
// FRONTDESK_TEST_DATABASE_URL; a server on 127.0.0.1:5432 accepting the postgres, root or
// current user without password; a throwaway cluster started with initdb and pg_ctl (from
// PATH, FRONTDESK_TEST_PG_BIN or /usr/lib/postgresql/*/bin), shared by the tests of this binary
// and stopped by Main or, failing that, by a watchdog when the binary exits.
// FRONTDESK_TEST_PG_THROWAWAY=1 goes straight to the throwaway cluster. Without any server
// the test is skipped, unless CI=true, when it fails.
func Database(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.adminURL, shared.err = findServer() })
	if shared.err != nil {
		if errors.Is(shared.err, errNoPostgres) && os.Getenv("CI") != "true" {
			t.Skipf("testkit: skipping, %v", shared.err)
		}
		t.Fatalf("testkit: postgres: %v", shared.err)
	}
	dbURL, drop, err := createDatabase(shared.adminURL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("testkit: %v", err)
		}
	})
	return dbURL
}

// findServer returns the admin URL of a usable server.
func findServer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if u := os.Getenv(EnvDatabaseURL); u != "" {
		if err := usable(ctx, u); err != nil {
			return "", fmt.Errorf("%s: %w", EnvDatabaseURL, err)
		}
		return u, nil
	}
	var tried []string
	if os.Getenv(EnvThrowaway) != "1" {
		for _, name := range candidateUsers() {
			u := fmt.Sprintf("postgres://%s@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3", url.PathEscape(name))
			err := usable(ctx, u)
			if err == nil {
				return u, nil
			}
			tried = append(tried, fmt.Sprintf("%s@127.0.0.1:5432: %v", name, err))
		}
	}
	c, err := startCluster(300)
	if err != nil {
		tried = append(tried, "throwaway cluster: "+err.Error())
		return "", fmt.Errorf("%w (set %s; tried %s)", errNoPostgres, EnvDatabaseURL, strings.Join(tried, "; "))
	}
	shared.mu.Lock()
	shared.cluster = c
	shared.mu.Unlock()
	return c.url, nil
}

func candidateUsers() []string {
	users := []string{"postgres", "root"}
	if u, err := user.Current(); err == nil {
		users = append(users, u.Username)
	}
	if u := os.Getenv("USER"); u != "" {
		users = append(users, u)
	}
	slices.Sort(users[2:])
	return slices.Compact(users)
}

// usable checks that url answers and its role may create databases.
func usable(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(ctx,
		`SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user`).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("role may not create databases")
	}
	return nil
}

// createDatabase creates a database on the server of adminURL and returns its URL and a
// function dropping it.
func createDatabase(adminURL string) (dbURL string, drop func() error, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "fd_test_" + hex.EncodeToString(b)
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		return "", nil, errors.New("the admin connection string must be a postgres:// URL")
	}
	u.Path = "/" + name
	dbURL = u.String()

	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := exec("CREATE DATABASE " + ident); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() error {
		// WITH (FORCE) (Postgres 13+) ends connections a test leaked.
		if err := exec("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"); err != nil {
			if err2 := exec("DROP DATABASE IF EXISTS " + ident); err2 != nil {
				return fmt.Errorf("drop database %s: %w", name, errors.Join(err, err2))
			}
		}
		return nil
	}
	return dbURL, drop, nil
}

// pgCluster is a throwaway Postgres cluster in a temporary directory, removed by a watchdog
// when this process is gone.
type pgCluster struct {
	*pgcluster.Cluster
	url      string // the maintenance database's
	watchdog *os.Process
	reaped   chan struct{} // closed when the watchdog's reaper returned
}

// startCluster initialises and starts a throwaway cluster. A lock file serialises this across
// test binaries running in parallel (go test ./...): initdb is CPU-heavy and the free-port
// choice must not race with another binary's.
func startCluster(maxConns int) (*pgCluster, error) {
	bin, err := pgcluster.FindBin(EnvPGBin)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "frontdesk-testkit-pg.lock"))
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	defer unlock()

	// Not t.TempDir(): it is private to root, and as root Postgres runs as another user.
	dir, err := os.MkdirTemp("", "fd-pg-")
	if err != nil {
		return nil, err
	}
	pc, err := pgcluster.New(dir, bin)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	pc.Ephemeral = true
	c := &pgCluster{Cluster: pc}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pc.Init(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := pc.Start(ctx, pgcluster.StartOptions{MaxConnections: maxConns}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.url = pc.URL("postgres")
	if err := c.startWatchdog(); err != nil {
		_ = c.stop()
		return nil, err
	}
	return c, nil
}

// startWatchdog starts a detached shell that stops the server and removes the directory once
// this process is gone, so a binary killed by a timeout or without Main does not leak a
// running cluster.
func (c *pgCluster) startWatchdog() error {
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done
pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$3"`
	cmd := exec.Command("sh", "-c", script, "fd-pg-watchdog", strconv.Itoa(os.Getpid()), c.Data(), c.Dir)
	// Its own process group: a Ctrl-C to the test binary's group must not kill it before it
	// cleaned up.
	pgcluster.Detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start watchdog: %w", err)
	}
	c.watchdog = cmd.Process
	// Reap it when stop kills it (or if it ever exits while we run: it should not).
	c.reaped = make(chan struct{})
	go func() {
		defer close(c.reaped)
		_ = cmd.Wait()
	}()
	return nil
}

// stop stops the server immediately (its data is thrown away) and removes its directory.
func (c *pgCluster) stop() error {
	if c.watchdog != nil {
		_ = c.watchdog.Kill()
		<-c.reaped
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.Remove(ctx)
}

// Postgres is a private Postgres server that a test may stop and start again (StoppablePostgres).
type Postgres struct {
	c *pgCluster
}

// StoppablePostgres starts a private, throwaway Postgres server for a test that takes the
// database away (Database's server is shared by every test of the binary, which must not stop
// it). It is removed in t.Cleanup. Without PostgreSQL binaries the test is skipped, or fails
// when CI=true.
func StoppablePostgres(t testing.TB) *Postgres {
	t.Helper()
	c, err := startCluster(0)
	if err != nil {
		if _, binErr := pgcluster.FindBin(EnvPGBin); binErr != nil && os.Getenv("CI") != "true" {
			t.Skipf("testkit: skipping, %v", binErr)
		}
		t.Fatalf("testkit: postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("testkit: stop postgres: %v", err)
		}
	})
	return &Postgres{c: c}
}

// URL is the URL of database db (postgres: the maintenance database). A connection attempt
// gives up after 2 s, so clients notice a stopped server quickly.
func (p *Postgres) URL(db string) string {
	return p.c.URL(db) + "&connect_timeout=2"
}

// CreateDatabase creates database name and returns its URL.
func (p *Postgres) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.c.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return p.URL(name)
}

// Stop stops the server the way an operator would: every session ends and open
// transactions roll back. The data stays for Start.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.c.Stop(ctx); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}

// Start starts the stopped server again on the same port.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.c.Start(ctx, pgcluster.StartOptions{Port: p.c.Port, ExactPort: true}); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}
