// Package pgrun runs a local Postgres cluster for development with the machine's PostgreSQL
// binaries (initdb, pg_ctl): created on first use in a data directory that is reused next
// time, started on a local port, stopped on exit. Postgres refuses to run as root, so as root
// the cluster belongs to and runs as an unprivileged user (postgres, else nobody).
package pgrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/pgcluster"
)

// DefaultPort is tried first: next to the standard 5432, which a system server often holds.
const DefaultPort = 5433

// EnvBin names the directory holding initdb and pg_ctl when they are neither on PATH nor in
// /usr/lib/postgresql/*/bin.
const EnvBin = "FRONTDESK_PG_BIN"

// Options configure the cluster.
type Options struct {
	// Dir is the cluster directory (required); the data directory is Dir/data and the server
	// log Dir/postgres.log.
	Dir string
	// Port is the port to listen on (0: DefaultPort, -1: any free port). When it is taken a
	// free port is used.
	Port int
	// BinDir holds initdb and pg_ctl (default: EnvBin, PATH, then /usr/lib/postgresql/*/bin,
	// newest first).
	BinDir string
	// Database is created if missing and is the database of URL (default frontdesk).
	Database string
	// Log reports what is done; nil discards it.
	Log *zap.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	pc *pgcluster.Cluster
	db string
}

// Start creates the cluster if Dir has none, starts it unless a server from an earlier run
// still runs on it (then it is reused), and creates the database.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgrun: Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgrun: %w", err)
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = FindBin(); err != nil {
			return nil, err
		}
	}
	pc, err := pgcluster.New(dir, bin)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	if pc.User != nil && !pgcluster.Traversable(filepath.Dir(dir)) {
		// Postgres runs as another user, who cannot reach a checkout under a private home
		// (root's, typically): keep the cluster where it can, stable per checkout so it is
		// reused next time.
		sum := sha256.Sum256([]byte(dir))
		pc.Dir = filepath.Join(sharedTemp(), "frontdesk-postgres-"+hex.EncodeToString(sum[:6]))
		log.Warn("the data directory is not reachable by the postgres user; keeping the cluster elsewhere",
			zap.String("wanted", dir), zap.String("dir", pc.Dir), zap.String("user", pc.User.Name))
	}
	c := &Cluster{pc: pc, db: opts.Database}
	if c.db == "" {
		c.db = "frontdesk"
	}
	if !pc.Initialized() {
		log.Info("creating a local postgres cluster", zap.String("data", pc.Data()), zap.String("bin", pc.Bin))
		if err := pc.Init(ctx); err != nil {
			return nil, fmt.Errorf("%w (or set FRONTDESK_DATABASE_URL)", err)
		}
	}
	if port, ok := pc.Running(ctx); ok {
		log.Info("reusing the running local postgres", zap.Int("port", port), zap.String("data", pc.Data()))
	} else {
		port := opts.Port
		switch {
		case port == 0:
			port = DefaultPort
		case port < 0:
			port = 0
		}
		if err := pc.Start(ctx, pgcluster.StartOptions{Port: port, MaxConnections: 300}); err != nil {
			return nil, err
		}
		log.Info("started the local postgres", zap.Int("port", pc.Port), zap.String("data", pc.Data()))
	}
	if err := pc.CreateDatabase(ctx, c.db); err != nil {
		return nil, err
	}
	return c, nil
}

// Dir is the cluster directory (Options.Dir, unless the postgres user could not reach it).
func (c *Cluster) Dir() string { return c.pc.Dir }

// sharedTemp is a temporary directory that survives reboots where there is one.
func sharedTemp() string {
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() {
		return "/var/tmp"
	}
	return os.TempDir()
}

// URL is the connection URL of the database (user postgres, trust authentication on
// 127.0.0.1).
func (c *Cluster) URL() string { return c.pc.URL(c.db) }

// Port is the port the server listens on.
func (c *Cluster) Port() int { return c.pc.Port }

// Stop stops the server (fast mode: sessions are ended, data is kept) and waits for it.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.pc.Stop(ctx)
}

// FindBin returns the directory holding initdb and pg_ctl: EnvBin, PATH, then
// /usr/lib/postgresql/*/bin, newest first.
func FindBin() (string, error) {
	bin, err := pgcluster.FindBin(EnvBin)
	if err != nil {
		return "", fmt.Errorf("%w; install PostgreSQL, set %s, or set FRONTDESK_DATABASE_URL to an existing server", err, EnvBin)
	}
	return bin, nil
}
