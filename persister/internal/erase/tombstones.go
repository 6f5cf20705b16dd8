package erase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// TombstoneMargin is how much longer than the ingest streams' max age a tombstone is kept: a
// message a client sent to the conversation after the erase (a retry, a tab left open) stays
// in its stream up to the max age after it was published, not after the erase.
const TombstoneMargin = 24 * time.Hour

// Tombstones drops the erases' tombstones (written by Postgres) once no ingest stream can still
// hold a message they cover: a replay of a stream re-ingests what it holds, so a tombstone must
// outlive it. A stream without a max age keeps them for good.
type Tombstones struct {
	Pool *pgxpool.Pool
	// Own reads the streams' configuration (the persister's own identity).
	Own jetstream.JetStream
	// Streams are the streams the persister ingests rows from.
	Streams []string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Expire drops the tombstones older than the streams' longest max age and TombstoneMargin.
func (x Tombstones) Expire(ctx context.Context) (int64, error) {
	keep, err := x.keep(ctx)
	if err != nil || keep == 0 {
		return 0, err
	}
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	return store.ExpireTombstones(ctx, x.Pool, now().Add(-keep))
}

// keep is how long tombstones are kept: zero for ever.
func (x Tombstones) keep(ctx context.Context) (time.Duration, error) {
	var longest time.Duration
	for _, name := range x.Streams {
		s, err := x.Own.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		age := s.CachedInfo().Config.MaxAge
		if age == 0 {
			return 0, nil
		}
		longest = max(longest, age)
	}
	return TombstoneKeep(longest), nil
}

// TombstoneKeep is how long tombstones are kept when the ingest streams' longest max age is
// maxAge (zero: for ever).
func TombstoneKeep(maxAge time.Duration) time.Duration {
	if maxAge <= 0 {
		return 0
	}
	return maxAge + TombstoneMargin
}
