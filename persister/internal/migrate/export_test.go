package migrate

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// ApplyThese is Apply with a given list of migrations, so tests can play an older or an
// edited set of files.
func ApplyThese(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger, migs []Migration) (Result, error) {
	return apply(ctx, pool, log, migs)
}
