// Package pg opens the Postgres connection pool of services that keep the record.
package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

// Connect builds a pool from cfg.URL with MaxConns and MinConns when they are > 0. The pool
// connects lazily: it returns without reaching Postgres, so a service starts (and reports not
// ready) while the database is down; Ready tells when it answers.
func Connect(ctx context.Context, cfg config.Database, log *zap.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's parse errors can quote the URL, password included, so they are not wrapped.
		return nil, fmt.Errorf("postgres: parse database.url %s: invalid connection string", config.RedactURL(cfg.URL))
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.MinConns > 0 {
		pc.MinConns = cfg.MinConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: new pool: %w", err)
	}
	if log != nil {
		log.Info("postgres pool created",
			zap.String("host", pc.ConnConfig.Host),
			zap.Uint16("port", pc.ConnConfig.Port),
			zap.String("database", pc.ConnConfig.Database),
			zap.Int32("max_conns", pc.MaxConns),
			zap.Int32("min_conns", pc.MinConns))
	}
	return pool, nil
}

// Ready returns a readiness check that pings Postgres through the pool.
func Ready(pool *pgxpool.Pool) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("postgres ping: %w", err)
		}
		return nil
	}
}
