package store

import (
	"context"
	"fmt"
	"time"
)

// ClosedBefore returns up to limit conversations of tenant closed before cutoff whose bucket
// keys retention has not removed yet (migration 0160).
func (s *Store) ClosedBefore(ctx context.Context, tenant string, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM conversations
		WHERE tenant = $1 AND closed_at < $2 AND bus_expired_at IS NULL
		ORDER BY closed_at LIMIT $3`, tenant, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("closed conversations of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("closed conversations of %s: %w", tenant, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// MarkBusExpired records that retention removed the conversations' bucket keys.
func (s *Store) MarkBusExpired(ctx context.Context, tenant string, convs []string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE conversations SET bus_expired_at = now()
		WHERE tenant = $1 AND id = ANY($2)`, tenant, convs); err != nil {
		return fmt.Errorf("mark conversations of %s: %w", tenant, err)
	}
	return nil
}
