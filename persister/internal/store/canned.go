package store

// Canned responses (migration 0101): a tenant's shared ones and each agent's own.

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Refusals of workspace writes. Their texts are the replies' stable error strings.
var (
	ErrForbidden         = errors.New("forbidden")
	ErrLimit             = errors.New("limit reached")
	ErrDuplicateShortcut = errors.New("duplicate shortcut")
)

// ErrNotFound (store.go) also refuses a change of a canned response the tenant does not have.

// listCannedSQL is the caller's list: the shared responses and their own, by shortcut (two
// ranges of canned_responses_shortcut).
const listCannedSQL = `SELECT id, owner, shortcut, title, text, updated_at FROM canned_responses
WHERE tenant = $1 AND owner = ANY(ARRAY['', $2]::text[]) ORDER BY shortcut, owner DESC LIMIT $3`

// ListCanned returns user's canned responses: the tenant's shared ones and user's own.
func (s *Store) ListCanned(ctx context.Context, tenant, user string) ([]*fd.CannedResponse, error) {
	rows, err := s.pool.Query(ctx, listCannedSQL, tenant, user, frames.MaxCannedShared+frames.MaxCannedPersonal)
	if err != nil {
		return nil, fmt.Errorf("list canned: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*fd.CannedResponse, error) {
		var (
			c  fd.CannedResponse
			at time.Time
		)
		if err := row.Scan(&c.Id, &c.Owner, &c.Shortcut, &c.Title, &c.Text, &at); err != nil {
			return nil, err
		}
		c.UpdatedAt = frames.Timestamp(at)
		return &c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list canned: %w", err)
	}
	return items, nil
}

// SaveCanned creates (no id) or changes a canned response for user. A response without owner
// is the tenant's, which only a supervisor may create or change; any other is user's own,
// whatever owner the item names. The tenant holds at most MaxCannedShared shared responses and
// each user MaxCannedPersonal.
func (s *Store) SaveCanned(ctx context.Context, tenant, user string, supervisor bool, item *fd.CannedResponse) error {
	owner := user
	if item.GetOwner() == "" {
		owner = ""
	}
	if owner == "" && !supervisor {
		return ErrForbidden
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if item.GetId() != "" {
			var have string
			err := tx.QueryRow(ctx, `SELECT owner FROM canned_responses WHERE tenant = $1 AND id = $2 FOR UPDATE`,
				tenant, item.GetId()).Scan(&have)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("save canned: %w", err)
			}
			if have != owner {
				return ErrForbidden
			}
			_, err = tx.Exec(ctx, `UPDATE canned_responses SET shortcut = $3, title = $4, text = $5, updated_at = now()
				WHERE tenant = $1 AND id = $2`, tenant, item.GetId(), item.GetShortcut(), item.GetTitle(), item.GetText())
			return cannedError(err)
		}
		// Counting under a lock on the owner's key: two saves racing past the limit serialise.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('canned/' || $1 || '/' || $2))`, tenant, owner); err != nil {
			return fmt.Errorf("save canned: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM canned_responses WHERE tenant = $1 AND owner = $2`, tenant, owner).Scan(&n); err != nil {
			return fmt.Errorf("save canned: %w", err)
		}
		if limit := frames.MaxCannedPersonal; (owner == "" && n >= frames.MaxCannedShared) || (owner != "" && n >= limit) {
			return ErrLimit
		}
		_, err := tx.Exec(ctx, `INSERT INTO canned_responses (tenant, id, owner, shortcut, title, text) VALUES ($1, $2, $3, $4, $5, $6)`,
			tenant, newID("cr_"), owner, item.GetShortcut(), item.GetTitle(), item.GetText())
		return cannedError(err)
	})
}

// DeleteCanned deletes one of user's responses, or a shared one when user is a supervisor.
func (s *Store) DeleteCanned(ctx context.Context, tenant, user string, supervisor bool, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM canned_responses WHERE tenant = $1 AND id = $2 AND (owner = $3 OR (owner = '' AND $4))`,
		tenant, id, user, supervisor)
	if err != nil {
		return fmt.Errorf("delete canned: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// cannedError maps a unique violation of the shortcut to ErrDuplicateShortcut.
func cannedError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return ErrDuplicateShortcut
	}
	if err != nil {
		return fmt.Errorf("save canned: %w", err)
	}
	return nil
}

// newID returns prefix and 16 random base32 characters.
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
