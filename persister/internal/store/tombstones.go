package store

// Erase tombstones (migration 0270): what keeps an erased customer's data from being written
// back by a batch the persister took from a stream before the erase purged it.
//
// The erase (package erase) takes its tenant's erase lock exclusively, records the tombstones
// and deletes the rows in one transaction. Every ingest write takes the lock shared (as its
// own statement, before it writes) and skips what a tombstone covers. Under READ COMMITTED
// each statement after the lock sees what the erase committed, so a batch is either committed
// before the erase's delete starts (and its rows are deleted with the rest) or it sees the
// tombstones: no batch commits rows of an erased conversation after the delete, however long
// it sat between the stream and the database. The lock is per tenant, so the erase holds its
// tenant's ingest for as long as its delete takes (a customer's rows, by index) and no other.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// LockEraseSharedSQL takes a tenant's erase lock shared, for the rest of the transaction:
	// every ingest write holds it while it writes.
	LockEraseSharedSQL = `SELECT pg_advisory_xact_lock_shared(hashtextextended('fd-erase/' || $1, 0))`
	// LockEraseExclusiveSQL takes it exclusively: the erase holds it while it records the
	// tombstones and deletes ($1 the tenant).
	LockEraseExclusiveSQL = `SELECT pg_advisory_xact_lock(hashtextextended('fd-erase/' || $1, 0))`

	// TombstoneConversationsSQL records the erase of conversations $2 (text[]) of tenant $1.
	TombstoneConversationsSQL = `INSERT INTO erased_conversations (tenant, conv)
SELECT $1, unnest($2::text[]) ORDER BY 2
ON CONFLICT (tenant, conv) DO UPDATE SET erased_at = now()`
	// TombstoneContactSQL records the erase of customer $2 of tenant $1.
	TombstoneContactSQL = `INSERT INTO erased_contacts (tenant, user_id) VALUES ($1, $2)
ON CONFLICT (tenant, user_id) DO UPDATE SET erased_at = now()`
)

// erasedConvsSQL lists which of the conversations given as arrays are erased.
const erasedConvsSQL = `SELECT e.tenant, e.conv FROM erased_conversations e
JOIN unnest($1::text[], $2::text[]) AS b(tenant, conv) ON e.tenant = b.tenant AND e.conv = b.conv`

// queueEraseLocks adds to b the erase lock of each tenant (shared), in sorted order, and
// returns how many statements it added.
func queueEraseLocks(b *pgx.Batch, tenants []string) int {
	tenants = slices.Compact(slices.Sorted(slices.Values(tenants)))
	for _, t := range tenants {
		b.Queue(LockEraseSharedSQL, t)
	}
	return len(tenants)
}

// errErased is returned from a write transaction that found some of its batch's conversations
// erased: the transaction is rolled back and the write retried without them.
type errErased struct{ convs map[userKey]bool }

func (e errErased) Error() string {
	return fmt.Sprintf("%d conversations of the batch are erased", len(e.convs))
}

// erasedCheck is a batch's erase guard: queue adds the tenants' erase locks and the lookup of
// the batch's erased conversations to a batch, ahead of its writes; read reads their results
// and returns errErased when there are any (the caller's transaction then rolls back).
type erasedCheck struct {
	locks int
}

// queue adds the guard of the conversations keys (tenant and conversation id) to b.
func (c *erasedCheck) queue(b *pgx.Batch, keys []userKey) {
	l := convList{tenants: make([]string, 0, len(keys)), convs: make([]string, 0, len(keys))}
	for _, k := range keys {
		l.tenants, l.convs = append(l.tenants, k.tenant), append(l.convs, k.id)
	}
	c.locks = queueEraseLocks(b, l.tenants) // sorts and dedupes a copy
	b.Queue(erasedConvsSQL, l.tenants, l.convs)
}

// read reads the guard's results from br.
func (c *erasedCheck) read(br pgx.BatchResults) error {
	for range c.locks {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("take erase lock: %w", err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("find erased conversations: %w", err)
	}
	erased := map[userKey]bool{}
	var t, conv string
	if _, err := pgx.ForEachRow(rows, []any{&t, &conv}, func() error {
		erased[userKey{t, conv}] = true
		return nil
	}); err != nil {
		return fmt.Errorf("find erased conversations: %w", err)
	}
	if len(erased) > 0 {
		return errErased{erased}
	}
	return nil
}

// withoutErased runs write on rows and, when it fails with errErased, again on the rows whose
// conversation (conv of a row) is not erased, counting those left out as duplicates (a
// redelivery of erased data is dropped the same way). Tombstones only grow, so it ends.
func withoutErased[R any](ctx context.Context, rows []R, conv func(R) userKey, write func(context.Context, []R) (WriteResult, error)) (WriteResult, error) {
	var skipped int64
	for {
		res, err := write(ctx, rows)
		var e errErased
		if !errors.As(err, &e) {
			res.Duplicates += skipped
			return res, err
		}
		n := len(rows)
		rows = slices.DeleteFunc(slices.Clone(rows), func(r R) bool { return e.convs[conv(r)] })
		skipped += int64(n - len(rows))
		if len(rows) == 0 {
			return WriteResult{Duplicates: skipped}, nil
		}
	}
}

// convKeys lists the distinct conversations of rows, sorted.
func convKeys[R any](rows []R, conv func(R) userKey) []userKey {
	keys := make([]userKey, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, conv(r))
	}
	slices.SortFunc(keys, func(a, b userKey) int {
		if c := strings.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return slices.Compact(keys)
}

// ExpireTombstones drops the erase tombstones recorded before cutoff and returns how many. The
// caller picks a cutoff after which no stream can still hold data they cover: the ingest
// streams' max age ago (a replay of a stream re-ingests what it holds, up to that age).
func ExpireTombstones(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) (int64, error) {
	var n int64
	for _, table := range []string{"erased_conversations", "erased_contacts"} {
		tag, err := pool.Exec(ctx, "DELETE FROM "+table+" WHERE erased_at < $1", cutoff)
		if err != nil {
			return n, fmt.Errorf("expire %s: %w", table, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
