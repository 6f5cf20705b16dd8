package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
)

// MigratedPool returns a pool on a fresh test database with every migration applied, closed
// in t.Cleanup. It is here, in the package, so that the plan tests (which read the package's
// SQL) and the external tests (store_test) share it.
func MigratedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	return pool
}

// ArrayBatchMax is the largest batch WriteMessages writes without the staging table.
const ArrayBatchMax = arrayBatchMax
