package ingest

// Group commit: how a worker gathers its next batch. A pump goroutine moves the iterator's
// messages into a queue while the worker writes; when the worker's transaction has committed
// it takes what the queue holds (waiting for the first message, and BatchWait after it when
// set), and at most one partial batch of the consumer is written at a time (the turn).

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// pump moves the iterator's messages into queue until ctx ends (nil) or the iterator must be
// rebuilt (its error).
func (c *Consumer[T]) pump(ctx context.Context, it jetstream.MessagesContext, queue chan<- jetstream.Msg) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, jetstream.ErrMsgIteratorClosed), errors.Is(err, jetstream.ErrConsumerDeleted),
				errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, nats.ErrConnectionClosed):
				return err
			default:
				// Missed heartbeats and reconnects: the iterator recovers by itself.
				c.log.Debug("next", zap.Error(err))
				continue
			}
		}
		select {
		case queue <- msg:
		case <-ctx.Done():
			return nil
		}
	}
}

// turnless: a batch of BatchSize/turnless messages or more is written without waiting for
// the partial-batch turn (see collect).
const turnless = 16

// collect fills batch from queue: it blocks for the first message, then takes what has
// already arrived, up to BatchSize, without waiting for more unless BatchWait is set (then
// at most BatchWait after the first, and no longer once the batch holds BatchFill).
//
// A partial batch is written only in its turn: one partial batch of the consumer's workers
// is in flight at a time (turn reports that this one holds it, to give back after the
// write). While another worker's partial batch commits, this one keeps taking what
// arrives, so at moderate rates the workers write one growing batch after another rather
// than two small transactions at once, which would cost Postgres twice the transactions
// for no shorter wait. Only small batches need the turn (under BatchSize/16 messages,
// where the transaction's own cost outweighs its rows'): larger ones, and from a backlog
// full ones, are written concurrently, so that commits overlap when the rate is high
// enough to fill them. Nor does a batch that waited AckWait/3 for the turn.
//
// open is false once the pump has ended (pumped closed) and the queue is empty: the
// iterator must be rebuilt.
func (c *Consumer[T]) collect(ctx context.Context, queue <-chan jetstream.Msg, pumped <-chan struct{}, batch *[]jetstream.Msg) (open, turn bool) {
	select {
	case msg := <-queue:
		*batch = append(*batch, msg)
	case <-pumped:
		// The pump may have queued messages before it ended: write them first.
		return c.drain(queue, batch), false
	case <-ctx.Done():
		return true, false
	}
	var (
		expired <-chan time.Time
		giveUp  *time.Timer
	)
	if c.opt.BatchWait > 0 {
		expired = c.opt.After(c.opt.BatchWait)
	}
	for len(*batch) < c.opt.BatchSize {
		if expired != nil && c.opt.BatchFill > 0 && len(*batch) >= c.opt.BatchFill {
			expired = nil // full enough to pay for its transaction
		}
		select {
		case msg := <-queue:
			*batch = append(*batch, msg)
			continue
		default:
		}
		// Nothing more has arrived: wait for the wait to expire (if any), then for the
		// turn, taking what arrives meanwhile. A nil channel is never ready.
		var (
			take chan<- struct{}
			late <-chan time.Time
		)
		if expired == nil {
			if len(*batch) >= c.opt.BatchSize/turnless {
				return true, false
			}
			select {
			case c.partial <- struct{}{}:
				return true, true
			default:
			}
			// Another worker's partial batch is committing: wait for it, but not long. A
			// commit that takes long (a split, a write outage) would let this batch and
			// what keeps arriving age into redelivery; write alone then, as without turns
			// (in an outage this worker then holds its batch and stops its iterator too).
			if giveUp == nil {
				giveUp = time.NewTimer(c.opt.AckWait / 3)
				defer giveUp.Stop()
			}
			take, late = c.partial, giveUp.C
		}
		select {
		case msg := <-queue:
			*batch = append(*batch, msg)
		case <-expired:
			expired = nil
		case take <- struct{}{}:
			// Take what arrived in the same instant: the select chose among ready cases.
			c.drain(queue, batch)
			return true, true
		case <-late:
			return true, false
		case <-pumped:
			return c.drain(queue, batch), false
		case <-ctx.Done():
			return true, false
		}
	}
	return true, false
}

// drain takes what is queued without waiting, up to BatchSize; it reports whether some is
// left for another batch.
func (c *Consumer[T]) drain(queue <-chan jetstream.Msg, batch *[]jetstream.Msg) (left bool) {
	for len(*batch) < c.opt.BatchSize {
		select {
		case msg := <-queue:
			*batch = append(*batch, msg)
		default:
			return false
		}
	}
	return len(queue) > 0
}
