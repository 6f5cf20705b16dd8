package erase

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Audit keeps the erasures table (migration 0160): one row per erase, with who asked, when,
// the conversations found and the counts removed.
type Audit struct {
	pool *pgxpool.Pool
}

// NewAudit returns the audit over pool.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

// Row is an audit row.
type Row struct {
	ID, Tenant, User, By string
	Convs                []string
}

// Begin returns the unfinished erase of the customer (resumed, its attempts counted) or a new
// one.
func (a *Audit) Begin(ctx context.Context, tenant, user, by string) (Row, error) {
	id := "er_" + rand.Text()[:16]
	var row Row
	err := a.pool.QueryRow(ctx, `
		INSERT INTO erasures (id, tenant, user_id, requested_by, attempts) VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (tenant, user_id) WHERE finished_at IS NULL
		DO UPDATE SET attempts = erasures.attempts + 1
		RETURNING id, tenant, user_id, requested_by, convs`, id, tenant, user, by).
		Scan(&row.ID, &row.Tenant, &row.User, &row.By, &row.Convs)
	if err != nil {
		return Row{}, fmt.Errorf("audit erasure: %w", err)
	}
	return row, nil
}

// Unfinished lists the erases not finished.
func (a *Audit) Unfinished(ctx context.Context) ([]Row, error) {
	rows, err := a.pool.Query(ctx, `UPDATE erasures SET attempts = attempts + 1 WHERE finished_at IS NULL
		RETURNING id, tenant, user_id, requested_by, convs`)
	if err != nil {
		return nil, fmt.Errorf("unfinished erasures: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var row Row
		err := r.Scan(&row.ID, &row.Tenant, &row.User, &row.By, &row.Convs)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("unfinished erasures: %w", err)
	}
	return out, nil
}

// Found records the conversations an erase goes through (added to those found before).
func (a *Audit) Found(ctx context.Context, id string, convs []string) error {
	_, err := a.pool.Exec(ctx, `UPDATE erasures SET convs = ARRAY(SELECT DISTINCT unnest(convs || $2::text[]) ORDER BY 1)
		WHERE id = $1`, id, convs)
	if err != nil {
		return fmt.Errorf("audit erasure %s: %w", id, err)
	}
	return nil
}

// Add adds counts to the erase's counts.
func (a *Audit) Add(ctx context.Context, id string, counts map[string]int64) error {
	_, err := a.pool.Exec(ctx, addCounts+` WHERE id = $1`, id, counts)
	if err != nil {
		return fmt.Errorf("audit erasure %s: %w", id, err)
	}
	return nil
}

// addCounts sums $2's counts into the row's.
const addCounts = `UPDATE erasures SET counts = (
		SELECT COALESCE(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
			SELECT k, sum(v::bigint) AS v FROM (
				SELECT key AS k, value AS v FROM jsonb_each_text(counts)
				UNION ALL SELECT key, value FROM jsonb_each_text($2::jsonb)) c GROUP BY k) s)`

// Finish adds counts, marks the erase finished and returns its counts over every attempt.
func (a *Audit) Finish(ctx context.Context, id string, counts map[string]int64) (map[string]int64, error) {
	var total map[string]int64
	err := a.pool.QueryRow(ctx, addCounts+`, finished_at = now(), error = '' WHERE id = $1 RETURNING counts`, id, counts).Scan(&total)
	if err != nil {
		return nil, fmt.Errorf("audit erasure %s: %w", id, err)
	}
	return total, nil
}

// Failed records why an attempt failed.
func (a *Audit) Failed(ctx context.Context, id string, cause error) error {
	_, err := a.pool.Exec(ctx, `UPDATE erasures SET error = $2 WHERE id = $1`, id, cause.Error())
	if err != nil {
		return fmt.Errorf("audit erasure %s: %w", id, errors.Join(err, cause))
	}
	return nil
}
