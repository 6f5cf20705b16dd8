// Package pgcluster runs a Postgres cluster with the machine's PostgreSQL binaries (initdb,
// pg_ctl): it finds them, initialises a data directory, starts the server on a loopback port
// and stops it. Postgres refuses to run as root, so as root the cluster belongs to and runs as
// an unprivileged user (postgres, else nobody), who must be able to reach the directory.
//
// It serves the test kit's throwaway clusters, the tests that stop and restart a server, and
// the persistent development cluster of `make run`.
package pgcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// FindBin returns the directory holding initdb and pg_ctl: the directory named by the
// environment variable env when it is set (env may be empty), else the one of initdb on PATH
// (symlinks resolved: Debian links the versioned binaries into /usr/bin), else the newest
// /usr/lib/postgresql/*/bin.
func FindBin(env string) (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if env != "" {
		if dir := os.Getenv(env); dir != "" {
			if has(dir) {
				return dir, nil
			}
			return "", fmt.Errorf("pgcluster: %s=%s has no initdb and pg_ctl", env, dir)
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// pg_ctl must come from the same installation as initdb.
		dirs := []string{filepath.Dir(p)}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
		for _, d := range dirs {
			if has(d) {
				return d, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return v }
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: PostgreSQL binaries (initdb, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin")
}

// User is the unprivileged account a cluster belongs to and runs as.
type User struct {
	Name     string
	UID, GID int
}

// Cluster is a Postgres cluster in Dir: data in Dir/data, server log in Dir/postgres.log. The
// server listens on 127.0.0.1 only, without a unix socket (its path would be too long under a
// deep directory, and every client here uses TCP); the superuser is postgres, trusted.
type Cluster struct {
	// Dir is the cluster directory.
	Dir string
	// Bin is the directory holding initdb and pg_ctl (see FindBin).
	Bin string
	// Port is the server's port, set by Start (or Running).
	Port int
	// User owns the directory and runs every Postgres command; nil runs them as the current
	// user. New sets it when running as root.
	User *User
	// Ephemeral says the data need not survive a crash (tests): initdb skips fsync, and the
	// server runs without fsync, synchronous commits or full-page writes, on small buffers.
	Ephemeral bool
}

// New returns a cluster in dir using the binaries in bin, owned by DefaultUser.
func New(dir, bin string) (*Cluster, error) {
	u, err := DefaultUser()
	if err != nil {
		return nil, err
	}
	return &Cluster{Dir: dir, Bin: bin, User: u}, nil
}

// Data is the data directory.
func (c *Cluster) Data() string { return filepath.Join(c.Dir, "data") }

// Initialized reports whether the data directory holds a cluster.
func (c *Cluster) Initialized() bool {
	_, err := os.Stat(filepath.Join(c.Data(), "PG_VERSION"))
	return err == nil
}

// Init creates Dir if needed and runs initdb, unless the data directory already holds a
// cluster. With a User, Dir's parents must let that user through and Dir is handed to it.
func (c *Cluster) Init(ctx context.Context) error {
	if c.Initialized() {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.User != nil {
		if parent := filepath.Dir(c.Dir); !Traversable(parent) {
			return fmt.Errorf("pgcluster: %s is not reachable by user %s (postgres cannot run as root): "+
				"make its parents world-executable or use another directory", c.Dir, c.User.Name)
		}
		if err := chown(c.Dir, c.User); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", c.Dir, err)
		}
	}
	// A half-made data directory from an interrupted initdb would make initdb refuse.
	if err := os.RemoveAll(c.Data()); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	args := []string{"-D", c.Data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"}
	if c.Ephemeral {
		args = append(args, "--no-sync")
	}
	_, err := c.run(ctx, "initdb", args...)
	return err
}

// StartOptions configure Start.
type StartOptions struct {
	// Port is the port to listen on; 0 picks a free one. When it is taken, a free port is used
	// instead, unless ExactPort.
	Port int
	// ExactPort fails rather than moving to another port: a restart must keep the address its
	// clients have.
	ExactPort bool
	// MaxConnections is max_connections (0: Postgres's default, 100).
	MaxConnections int
}

// Start starts the (initialised, stopped) server and sets Port. Another process may take a
// free port between the choice and the server's bind, so Start tries up to three ports (an
// exact port: the same one five times, half a second apart).
func (c *Cluster) Start(ctx context.Context, opts StartOptions) error {
	port := opts.Port
	attempts := 3
	if opts.ExactPort {
		if port == 0 {
			return errors.New("pgcluster: ExactPort needs a port")
		}
		// The same port again, after a moment: a server that just stopped may still hold it.
		attempts = 5
	}
	var err error
	for attempt := range attempts {
		if opts.ExactPort && attempt > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		if !opts.ExactPort && (attempt > 0 || port == 0 || !free(port)) {
			if port, err = freePort(); err != nil {
				return fmt.Errorf("pgcluster: %w", err)
			}
		}
		settings := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", port)
		if opts.MaxConnections > 0 {
			settings += fmt.Sprintf(" -c max_connections=%d", opts.MaxConnections)
		}
		if c.Ephemeral {
			settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
		}
		if _, err = c.run(ctx, "pg_ctl", "-D", c.Data(), "-l", filepath.Join(c.Dir, "postgres.log"),
			"-o", settings, "-w", "-t", "60", "start"); err == nil {
			c.Port = port
			return nil
		}
	}
	return fmt.Errorf("%w%s", err, c.logTail())
}

// logTail returns the end of the server's log for an error message (why a start failed).
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "postgres.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 1024 {
		b = b[len(b)-1024:]
	}
	return "\nserver log:\n" + strings.TrimSpace(string(b))
}

// Stop stops the server the way an operator would: fast mode ends every session, rolls back
// open transactions and keeps the data.
func (c *Cluster) Stop(ctx context.Context) error {
	_, err := c.run(ctx, "pg_ctl", "-D", c.Data(), "-m", "fast", "-w", "-t", "60", "stop")
	return err
}

// Remove stops the server at once, if it runs (its data is thrown away), and removes Dir.
func (c *Cluster) Remove(ctx context.Context) error {
	var err error
	if _, ok := c.Running(ctx); ok {
		_, err = c.run(ctx, "pg_ctl", "-D", c.Data(), "-m", "immediate", "-w", "stop")
	}
	if rmErr := os.RemoveAll(c.Dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// Running reports whether a server runs on the data directory (perhaps started by an earlier
// process), and its port, which it also stores in Port.
func (c *Cluster) Running(ctx context.Context) (int, bool) {
	if _, err := c.run(ctx, "pg_ctl", "-D", c.Data(), "status"); err != nil {
		return 0, false
	}
	f, err := os.Open(filepath.Join(c.Data(), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	// Line 4 of postmaster.pid is the port.
	sc := bufio.NewScanner(f)
	for i := 1; sc.Scan(); i++ {
		if i == 4 {
			p, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
			if err != nil {
				return 0, false
			}
			c.Port = p
			return p, true
		}
	}
	return 0, false
}

// URL is the connection URL of database db (postgres: the maintenance database) as the
// superuser.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates database name unless it exists. It waits up to 30 s for the server
// to accept connections: right after pg_ctl returned it may still be finishing recovery.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	var conn *pgx.Conn
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if conn, err = pgx.Connect(ctx, c.URL("postgres")); err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return nil
}

// run runs a Postgres tool from Bin as User, in its own process group: a Ctrl-C to the
// terminal must not reach the server, which its owner stops in its own time.
func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, tool), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	Detach(cmd)
	if c.User != nil {
		runAs(cmd, c.User)
		// root's HOME is not readable by the user; nothing needs it, but tools look.
		cmd.Env = append(cmd.Env, "HOME="+os.TempDir())
	}
	// The server pg_ctl starts inherits no pipe of ours (its output goes to the log file);
	// WaitDelay makes sure a stray descriptor cannot hang us anyway.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pgcluster: %s: %w: %s", tool, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Traversable reports whether every directory from dir up to the root lets others through,
// so an unprivileged user can reach a directory made in dir.
func Traversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if filepath.Dir(d) == d {
			return true
		}
	}
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// freePort picks a free port below the kernel's ephemeral range when it can: the kernel hands
// ports of that range to every listener on port 0 and every outgoing connection, so a server
// stopped and started again on its port (a test's StoppablePostgres) could find it taken
// meanwhile by anyone. Below the range only another explicit choice can collide.
func freePort() (int, error) {
	if low, ok := ephemeralLow(); ok && low > stablePortMin+1000 {
		for range 50 {
			port := stablePortMin + rand.IntN(low-stablePortMin)
			if free(port) {
				return port, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stablePortMin is the lowest port freePort picks by itself: above the well-known and the
// commonly configured ones.
const stablePortMin = 20000

// ephemeralLow reads the first port of the kernel's ephemeral range (Linux).
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	low, err := strconv.Atoi(f[0])
	return low, err == nil
}
