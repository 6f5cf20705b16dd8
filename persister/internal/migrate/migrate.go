// Package migrate applies the persister's versioned SQL migrations.
//
// Migrations are the files sql/NNNN_name.sql embedded in the binary, applied in version order,
// each in its own transaction together with its row in schema_migrations. Apply holds a
// Postgres advisory lock for the whole run, so any number of replicas (and the Helm hook job)
// may start at once: one applies, the others wait and then find nothing left to do.
//
// A migration is never edited once released: a database that applied the old text would
// never see the change. schema_migrations keeps each applied file's SHA-256, and Apply
// refuses to run (ErrChanged, naming the file) when an applied file's content differs.
// Schema changes go into a new numbered file.
package migrate

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

//go:embed sql/*.sql
var files embed.FS

// LockKey is the advisory lock key that serialises migration runs. It is a fixed constant
// (the bytes "fdpersis") so every version of the persister takes the same lock.
const LockKey int64 = 0x6664706572736973

// Migration is one embedded migration file.
type Migration struct {
	// Version is the number before the first underscore of the file name.
	Version int
	// Name is the file name.
	Name string
	// SQL is the file's content.
	SQL string
}

// Checksum is the hex SHA-256 of the migration's content, recorded when it is applied.
func (m Migration) Checksum() string {
	sum := sha256.Sum256([]byte(m.SQL))
	return hex.EncodeToString(sum[:])
}

// ErrChanged is returned (wrapped, with the file name) by Apply when a migration that the
// database has applied no longer has the content it had then. It is permanent: retrying
// does not help; the edit must be reverted and the change moved into a new migration.
var ErrChanged = errors.New("applied migration was changed")

// All returns the embedded migrations in version order. It fails on a badly named file or a
// repeated version, which a test catches before release.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := files.ReadFile(path.Join("sql", name))
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Result says what Apply did.
type Result struct {
	// Applied are the versions this call applied.
	Applied []int
	// Current is the schema version after the call.
	Current int
}

// Apply brings the database to the newest embedded version under the advisory lock. It is
// safe to call concurrently from many processes. A database already ahead of this binary
// (a newer replica migrated it during a rolling update) is left alone. It fails with
// ErrChanged, before applying anything, if an applied migration's content changed.
func Apply(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) (Result, error) {
	migs, err := All()
	if err != nil {
		return Result{}, err
	}
	return apply(ctx, pool, log, migs)
}

// appliedRow is one row of schema_migrations.
type appliedRow struct {
	Version  int32
	Name     string
	Checksum *string
}

func apply(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger, migs []Migration) (Result, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	// A session lock on this one connection: transactions below run on the same connection,
	// so the lock covers all of them, and it is released even if the process dies (the
	// session ends).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", LockKey); err != nil {
		return Result{}, fmt.Errorf("migrate: advisory lock: %w", err)
	}
	defer func() {
		// Unlock on a fresh context: ctx may be what ended the run. If this fails the lock
		// goes with the session when the pool closes the connection.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", LockKey); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	// checksum is added separately: databases migrated before checksums existed have the
	// table without it.
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now());
		ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text`); err != nil {
		return Result{}, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
	if err != nil {
		return Result{}, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedRow])
	if err != nil {
		return Result{}, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	byVersion := map[int]Migration{}
	for _, m := range migs {
		byVersion[m.Version] = m
	}
	var res Result
	applied := map[int]bool{}
	for _, r := range done {
		v := int(r.Version)
		applied[v] = true
		res.Current = max(res.Current, v)
		m, known := byVersion[v]
		if !known {
			continue // applied by a newer build
		}
		if r.Checksum == nil {
			// Applied by a build that did not record checksums: trust what is there and
			// record it, so later edits are caught.
			if _, err := conn.Exec(ctx, "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", v, m.Checksum()); err != nil {
				return Result{}, fmt.Errorf("migrate %s: record checksum: %w", m.Name, err)
			}
			continue
		}
		if *r.Checksum != m.Checksum() {
			return Result{}, fmt.Errorf("migrate: %s (version %d, applied as %s) was edited after it was applied "+
				"(checksum %.12s recorded, file has %.12s): restore its applied content and put the change in a new migration: %w",
				m.Name, v, r.Name, *r.Checksum, m.Checksum(), ErrChanged)
		}
	}
	for _, m := range migs {
		if applied[m.Version] {
			continue
		}
		if err := applyOne(ctx, conn.Conn(), m); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, m.Version)
		res.Current = max(res.Current, m.Version)
		if log != nil {
			log.Info("migration applied", zap.Int("version", m.Version), zap.String("name", m.Name))
		}
	}
	return res, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, m Migration) (err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: begin: %w", m.Name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreClosed(tx.Rollback(context.WithoutCancel(ctx))))
		}
	}()
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
		m.Version, m.Name, m.Checksum()); err != nil {
		return fmt.Errorf("migrate %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", m.Name, err)
	}
	return nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
