package erase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Durable is one of the persister's durable consumers copying a stream into Postgres.
type Durable struct{ Stream, Name string }

// IngestDurables are the persister's consumers that write rows an erase deletes.
var IngestDurables = []Durable{
	{subjects.StreamMessages, subjects.DurablePersisterMessages},
	{subjects.StreamEvents, subjects.DurablePersisterEvents},
	{subjects.StreamReads, subjects.DurablePersisterReads},
	{subjects.StreamNotes, subjects.DurablePersisterNotes},
}

// Ingested closes the race between an erase and the persister's ingest: what the persister
// took from a stream (the dispatcher's closing event of a conversation InFlight just closed,
// its last messages) may sit in a batch whose transaction commits after Postgres deleted the
// record, and write it back; purging the stream does not reach a batch already taken (and the
// purge drops the message from the durable's pending list, so the durable's state cannot tell
// when that batch commits afterwards). Run after InFlight and before the streams are purged,
// Ingested waits until the record holds as open none of the conversations the bucket says are
// closed (the dispatcher writes the key before it publishes the closing event), then notes
// each stream's last sequence and waits until the persister's durable has acked everything up
// to it (the persister acks after the commit): what the record receives of the customer is in
// Postgres before Postgres is erased.
//
// Ingested narrows the window; the tombstones the Postgres eraser writes close it: a batch that
// commits after the delete anyway (one taken after the snapshot: a message a client sent to the
// closed conversation, a late event) finds them and writes nothing of the customer (package
// store, tombstones.go). Waiting here still counts what was in flight among the rows erased.
//
// A durable that does not exist is skipped, and so is one no persister pulls from with
// nothing unacked (`persister erase` run with no persister: nothing is in flight, and what
// waits in the stream is purged before anyone takes it). A persister far behind or unable to
// write holds the attempt until Wait passes; it then fails and is resumed later.
type Ingested struct {
	// JS reads the conversations' keys (the erasing connection).
	JS jetstream.JetStream
	// Own reads the durables' state: the persister's own identity (the retention identity
	// may not look at its durables).
	Own      jetstream.JetStream
	Pool     *pgxpool.Pool
	Durables []Durable
	// Wait bounds the wait (DefaultInFlightWait when zero).
	Wait time.Duration
	Log  *zap.Logger
}

// Name implements Eraser.
func (Ingested) Name() string { return "ingested" }

// Erase implements Eraser.
func (g Ingested) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	wait := g.Wait
	if wait <= 0 {
		wait = DefaultInFlightWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	closed, err := g.closedConvs(ctx, t)
	if err != nil {
		return nil, err
	}
	var durables []jetstream.Consumer
	for _, d := range g.Durables {
		c, err := g.Own.Consumer(ctx, d.Stream, d.Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("consumer %s: %w", d.Name, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("consumer %s: %w", d.Name, err)
		}
		if info.NumWaiting > 0 || info.NumAckPending > 0 {
			durables = append(durables, c)
		}
	}
	if len(durables) == 0 {
		return nil, nil // no persister running
	}
	if err := g.poll(ctx, t, func() error { return g.recorded(ctx, t.Tenant, closed) }); err != nil {
		return nil, err
	}
	for _, c := range durables {
		s, err := g.Own.Stream(ctx, c.CachedInfo().Stream)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", c.CachedInfo().Stream, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", c.CachedInfo().Stream, err)
		}
		last := info.State.LastSeq
		err = g.poll(ctx, t, func() error {
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.AckFloor.Stream >= last || info.NumAckPending == 0 && (info.NumPending == 0 || info.NumWaiting == 0) {
				return nil
			}
			return fmt.Errorf("%s acked up to %d of %d (%d unacked)", info.Name, info.AckFloor.Stream, last, info.NumAckPending)
		})
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// closedConvs lists the target's conversations the bucket holds as closed.
func (g Ingested) closedConvs(ctx context.Context, t Target) ([]string, error) {
	kv, err := g.JS.KeyValue(ctx, subjects.BucketConversations)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", subjects.BucketConversations, err)
	}
	return convsIn(ctx, kv, t, frames.StateClosed)
}

// recorded says whether the record holds none of convs as still open. (One it does not hold at
// all is waited for by the durables' acks: a closing event that never reaches the record, dead
// lettered, must not hold every erase of the customer.)
func (g Ingested) recorded(ctx context.Context, tenant string, convs []string) error {
	if len(convs) == 0 {
		return nil
	}
	var n int
	if err := g.Pool.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE tenant = $1 AND id = ANY($2) AND state <> 'closed'`,
		tenant, convs).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the record holds %d closed conversations as open", n)
	}
	return nil
}

// poll calls check every inFlightPoll until it succeeds or ctx ends (the error then names what
// was waited for, with check's last error); waiting, when not nil, is called with the first
// failure's error.
func poll(ctx context.Context, what string, check func() error, waiting func(error)) error {
	tick := time.NewTicker(inFlightPoll)
	defer tick.Stop()
	for first := true; ; first = false {
		err := check()
		if err == nil {
			return nil
		}
		if first && waiting != nil {
			waiting(err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
}

// poll waits for check, logging the first wait.
func (g Ingested) poll(ctx context.Context, t Target, check func() error) error {
	return poll(ctx, "the persister's ingest", check, func(err error) {
		if g.Log != nil {
			g.Log.Info("erase waits for the persister's ingest", zap.String("erasure", t.Erasure), zap.Error(err))
		}
	})
}
