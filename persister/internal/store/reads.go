package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

const upsertReadSQL = `INSERT INTO read_positions AS r (tenant, user_id, conv, seq, at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant, user_id, conv) DO UPDATE SET seq = EXCLUDED.seq, at = EXCLUDED.at, updated_at = now()
WHERE EXCLUDED.seq > r.seq`

type readKey struct{ tenant, user, conv string }

// WriteReads upserts read positions in one transaction, keeping the highest seq per user and
// conversation (a stale position delivered late never moves one back).
func (s *Store) WriteReads(ctx context.Context, rows []ReadRow) (WriteResult, error) {
	if len(rows) == 0 {
		return WriteResult{}, nil
	}
	// The positions in an erased conversation are dropped (tombstones.go).
	return withoutErased(ctx, rows, readConv, s.writeReads)
}

// readConv is the conversation of a read position.
func readConv(r ReadRow) userKey { return userKey{r.Tenant, r.Conv} }

// writeReads is WriteReads; it fails with errErased when some of the positions' conversations
// are erased.
func (s *Store) writeReads(ctx context.Context, rows []ReadRow) (WriteResult, error) {
	latest := map[readKey]ReadRow{}
	for _, r := range rows {
		k := readKey{r.Tenant, r.User, r.Conv}
		if cur, ok := latest[k]; !ok || r.Seq > cur.Seq {
			latest[k] = r
		}
	}
	keys := make([]readKey, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b readKey) int {
		return strings.Compare(a.tenant+"\x00"+a.user+"\x00"+a.conv, b.tenant+"\x00"+b.user+"\x00"+b.conv)
	})
	var res WriteResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		var guard erasedCheck
		guard.queue(b, convKeys(rows, readConv))
		for _, k := range keys {
			r := latest[k]
			var at *time.Time
			if !r.At.IsZero() {
				at = &r.At
			}
			b.Queue(upsertReadSQL, r.Tenant, r.User, r.Conv, r.Seq, at)
		}
		br := tx.SendBatch(ctx, b)
		if err := guard.read(br); err != nil {
			_ = br.Close()
			return err
		}
		for range keys {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("upsert read position: %w", err)
			}
			res.Inserted += tag.RowsAffected()
		}
		return br.Close()
	})
	if err != nil {
		return WriteResult{}, fmt.Errorf("write %d read positions: %w", len(rows), err)
	}
	res.Duplicates = int64(len(rows)) - res.Inserted
	return res, nil
}
