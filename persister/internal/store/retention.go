package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// Retention modes of a tenant (fd.Retention.mode), as the chassis names them.
const (
	RetentionDelete    = tenants.RetentionDelete
	RetentionAnonymize = tenants.RetentionAnonymize
)

// Tenants returns the ids of the tenants the record holds data for.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ids, nil
}

// SyncTenant records a tenant's name and retention settings, so the record says which
// policy applied to its data.
func (s *Store) SyncTenant(ctx context.Context, id, name string, days int32, mode string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants AS t (id, name, retention_days, retention_mode) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, retention_days = EXCLUDED.retention_days,
			retention_mode = EXCLUDED.retention_mode, updated_at = now()
		WHERE (t.name, t.retention_days, t.retention_mode) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.retention_days, EXCLUDED.retention_mode)`,
		id, name, days, mode)
	if err != nil {
		return fmt.Errorf("sync tenant %s: %w", id, err)
	}
	return nil
}

// ExpireMessages applies retention to at most limit messages of tenant created before
// cutoff, in one short transaction, and returns how many it changed. Callers loop until it
// returns fewer than limit, so a large backlog never holds long locks. Anonymize blanks the
// text, the sender's name, the attachment and the search vector, keeping the row (seq, ids,
// roles, times) so history pages and counts stay consistent; delete removes the row.
//
// Anonymized rows stay in the (tenant, created_at) index, so anonymize walks forward from
// the tenant's watermark (tenants.anonymized_until) instead of rescanning them every run.
func (s *Store) ExpireMessages(ctx context.Context, tenant string, cutoff time.Time, mode string, limit int) (int64, error) {
	switch mode {
	case RetentionAnonymize:
		var n int64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `
				WITH w AS (
					SELECT COALESCE((SELECT anonymized_until FROM tenants WHERE id = $1), '-infinity'::timestamptz) AS since
				), batch AS (
					SELECT m.tenant, m.conv, m.seq FROM messages m, w
					WHERE m.tenant = $1 AND m.created_at >= w.since AND m.created_at < $2 AND m.anonymized_at IS NULL
					ORDER BY m.created_at LIMIT $3 FOR UPDATE OF m SKIP LOCKED
				), upd AS (
					UPDATE messages m SET text = '', sender_name = '', client_id = '',
						attachment_id = '', attachment_url = '', attachment_type = '', attachment_size = 0,
						attachment_name = '', search = NULL, anonymized_at = now()
					FROM batch b WHERE m.tenant = b.tenant AND m.conv = b.conv AND m.seq = b.seq
					RETURNING m.created_at
				), mark AS (
					INSERT INTO tenants AS t (id, anonymized_until)
					SELECT $1, max(created_at) FROM upd HAVING count(*) > 0
					ON CONFLICT (id) DO UPDATE SET anonymized_until = GREATEST(t.anonymized_until, EXCLUDED.anonymized_until)
				)
				SELECT count(*) FROM upd`, tenant, cutoff, limit).Scan(&n)
		})
		if err != nil {
			return 0, fmt.Errorf("retention of %s: %w", tenant, err)
		}
		return n, nil
	case RetentionDelete, "":
		tag, err := s.pool.Exec(ctx, `DELETE FROM messages WHERE (tenant, conv, seq) IN (
				SELECT tenant, conv, seq FROM messages
				WHERE tenant = $1 AND created_at < $2
				ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)`, tenant, cutoff, limit)
		if err != nil {
			return 0, fmt.Errorf("retention of %s: %w", tenant, err)
		}
		return tag.RowsAffected(), nil
	default:
		return 0, fmt.Errorf("retention of %s: unknown mode %q", tenant, mode)
	}
}
