// Package ingest copies JetStream streams into the record: durable pull consumers shared by
// every persister replica, one transaction per batch, acks only after the commit.
//
// Group commit (collect.go): a worker writes whatever has arrived as soon as its previous
// transaction committed, up to BatchSize, waiting BatchWait after a partial batch's first
// message for more (0 here; the persister's setting defaults to 50ms, as Postgres pays per
// transaction). Under load the messages that arrive while a transaction commits form the
// next batch, so batches grow with the rate and fill to BatchSize from a backlog.
//
// Delivery contract: a batch is acked only after its transaction committed, and every write
// is idempotent (package store), so a crash between commit and ack costs a redelivery, never
// a duplicate row. While Postgres fails the consumer keeps the batch, backs off and retries,
// telling JetStream the messages are still in progress, and fetches nothing new; the stream
// keeps everything else. The consumer's MaxDeliver is unlimited on purpose: a message that
// decodes is never dropped because the database was down for a while. Messages that can never
// be written (undecodable, inconsistent, or refused by Postgres as bad data) go to the
// dead-letter subject and are terminated, so they never block the stream.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// ServiceName names the persister in dead letters and on its dead-letter subject.
const ServiceName = "persister"

// Options tune one consumer.
type Options struct {
	// Stream is the stream to consume.
	Stream string
	// Durable is the consumer's durable name, shared by every replica.
	Durable string
	// BatchSize is the most messages written in one transaction.
	BatchSize int
	// BatchWait is how long a worker waits after the first message of a batch for more
	// before writing it, when fewer than BatchSize have arrived. Zero (the default) is pure
	// group commit: what has arrived is written at once. A wait only trades latency for
	// fewer transactions at low rates; from a backlog batches fill to BatchSize either way.
	BatchWait time.Duration
	// BatchFill ends a BatchWait early: a partial batch that holds BatchFill messages is
	// written without waiting out the rest (0: the whole wait). The wait exists to spare
	// Postgres transactions of a row or two at low rates; a batch of BatchFill rows already
	// pays for its transaction, and waiting longer at a high rate only ages every row in it.
	BatchFill int
	// After returns a channel that receives once d has passed: the timer of a BatchWait
	// (nil: time.After). Tests pass a fake clock.
	After func(d time.Duration) <-chan time.Time
	// AckWait is how long JetStream waits for an ack before redelivering (a crashed
	// replica's batch comes back after it).
	AckWait time.Duration
	// MaxAckPending bounds unacked messages across all replicas.
	MaxAckPending int
	// RetryMin and RetryMax bound the exponential backoff between write attempts.
	RetryMin, RetryMax time.Duration
	// ShutdownGrace is how long a batch already fetched may take to commit once ctx ends.
	ShutdownGrace time.Duration
	// Workers is the number of batches written concurrently by this process (default 2):
	// while one transaction commits, the next batch is decoded and sent on another
	// connection. Each worker pulls from the same durable consumer, like a replica.
	Workers int
	// FilterSubject, when set, is the only subject tree of Stream the consumer reads (a stream
	// storing two kinds of payload, like FD_EVENTS, has a consumer per kind).
	FilterSubject string
	// Tracer records, for each stored message whose publisher traced it, a span from the
	// batch's start to its commit, continuing the publisher's trace; the zero Tracer (tracing
	// off) costs nothing.
	Tracer tracing.Tracer
}

func (o *Options) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.BatchWait < 0 {
		o.BatchWait = 0
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 20 * o.BatchSize
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
}

// Handler decodes and writes one stream's records.
type Handler[T any] struct {
	// Decode turns a stream message into a record; a PoisonError dead-letters it. Repairs
	// lists what it changed so that the record could be stored rather than lost (each one is
	// logged and counted in frontdesk_persister_repaired_total).
	Decode func(subject string, seq uint64, data []byte) (rec T, repairs []string, err error)
	// Write writes a batch in one transaction; nil means committed.
	Write func(ctx context.Context, recs []T) (store.WriteResult, error)
}

// Consumer is one stream's ingest loop.
type Consumer[T any] struct {
	js  jetstream.JetStream
	opt Options
	h   Handler[T]
	log *zap.Logger
	met *Metrics

	mu       sync.Mutex
	failing  error
	failedAt time.Time
	// queues are the workers' queues of delivered messages not yet taken into a batch.
	queues map[chan jetstream.Msg]struct{}
	// partial holds a token while one of the workers writes a small partial batch (see
	// collect).
	partial chan struct{}
}

// NewConsumer returns a consumer of opt.Stream writing through h.
func NewConsumer[T any](js jetstream.JetStream, opt Options, h Handler[T], met *Metrics, log *zap.Logger) *Consumer[T] {
	opt.defaults()
	return &Consumer[T]{js: js, opt: opt, h: h, met: met, log: log.With(zap.String("stream", opt.Stream)),
		partial: make(chan struct{}, 1)}
}

// Ready reports the consumer healthy unless its last write attempt failed.
func (c *Consumer[T]) Ready(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing != nil {
		return fmt.Errorf("%s: writes failing since %s: %w", c.opt.Stream, c.failedAt.Format(time.RFC3339), c.failing)
	}
	return nil
}

func (c *Consumer[T]) addQueue(q chan jetstream.Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queues == nil {
		c.queues = map[chan jetstream.Msg]struct{}{}
	}
	c.queues[q] = struct{}{}
}

func (c *Consumer[T]) removeQueue(q chan jetstream.Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.queues, q)
}

// queued is the number of delivered messages waiting in the workers' queues for a batch.
func (c *Consumer[T]) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for q := range c.queues {
		n += len(q)
	}
	return n
}

func (c *Consumer[T]) setFailing(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.failing = nil
		return
	}
	if c.failing == nil {
		c.failedAt = time.Now()
	}
	c.failing = err
}

// ConsumerConfig is the durable consumer's configuration.
func (c *Consumer[T]) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.opt.Durable,
		Description:   "Frontdesk persister: copies " + c.opt.Stream + " to Postgres.",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Explicit, never AckAll: replicas share the consumer, and an ack-all from one
		// replica would ack another's uncommitted batch.
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opt.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.opt.MaxAckPending,
		FilterSubject: c.opt.FilterSubject,
	}
}

// Run consumes until ctx ends. A batch already fetched when ctx ends is still written and
// acked within ShutdownGrace; a batch whose write is failing is left unacked for redelivery.
func (c *Consumer[T]) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runWorker(ctx)
		}()
	}
	wg.Wait()
	return nil
}

func (c *Consumer[T]) runWorker(ctx context.Context) {
	retry := c.backoff()
	for ctx.Err() == nil {
		cons, err := c.js.CreateOrUpdateConsumer(ctx, c.opt.Stream, c.ConsumerConfig())
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.log.Warn("create consumer failed; retrying", zap.Error(err))
			sleep(ctx, retry())
			continue
		}
		retry = c.backoff()
		err = c.consume(ctx, cons)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, errHeld):
			// The iterator was stopped during a write outage; start a fresh one.
		case err != nil:
			c.log.Warn("consumer interrupted; restarting", zap.Error(err))
			sleep(ctx, c.opt.RetryMin)
		}
	}
}

// errHeld ends consume after a batch was held through a write outage, which stopped the
// iterator's prefetching.
var errHeld = errors.New("iterator stopped while a batch was held")

// consume runs one message iterator until ctx ends or the iterator must be rebuilt. A pump
// goroutine moves the iterator's deliveries into a queue of up to BatchSize messages while
// the worker writes, so that when a transaction commits the worker takes everything queued
// without blocking (the iterator has no non-blocking Next).
func (c *Consumer[T]) consume(ctx context.Context, cons jetstream.Consumer) error {
	// The iterator prefetches up to a batch and the queue holds another, so the next batch
	// streams in while this one commits (two batches buffered per worker, as before).
	it, err := cons.Messages(jetstream.PullMaxMessages(c.opt.BatchSize))
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	defer it.Stop()
	queue := make(chan jetstream.Msg, c.opt.BatchSize)
	c.addQueue(queue)
	defer c.removeQueue(queue)
	pctx, stopPump := context.WithCancel(ctx)
	var pumpErr error
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		pumpErr = c.pump(pctx, it, queue)
	}()
	// The pump ends before consume returns: it may be blocked on the queue or the iterator.
	defer func() { stopPump(); <-pumped }()

	batch := make([]jetstream.Msg, 0, c.opt.BatchSize)
	for {
		batch = batch[:0]
		open, turn := c.collect(ctx, queue, pumped, &batch)
		if len(batch) > 0 {
			wctx := ctx
			if ctx.Err() != nil {
				// Finish what was fetched rather than leave it to redelivery after AckWait.
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.opt.ShutdownGrace)
				defer cancel()
			}
			held := c.process(wctx, it, batch)
			if turn {
				<-c.partial
			}
			if held && ctx.Err() == nil {
				return errHeld
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if !open {
			<-pumped
			if pumpErr == nil {
				return errors.New("message iterator ended")
			}
			return pumpErr
		}
	}
}

type item[T any] struct {
	msg jetstream.Msg
	seq uint64
	rec T
	// dead is set once the message went to the dead-letter subject instead of the record:
	// it is terminated, never acked.
	dead bool
}

// process writes one batch and acks it; it returns once every message is acked, terminated
// (dead-lettered) or, when ctx ended, left for redelivery. held reports that writes failed
// for a while, which stopped the iterator.
func (c *Consumer[T]) process(ctx context.Context, it jetstream.MessagesContext, batch []jetstream.Msg) (held bool) {
	start := time.Now()
	items := make([]item[T], 0, len(batch))
	var lastPending uint64
	for _, m := range batch {
		md, err := m.Metadata()
		if err != nil {
			// Not a JetStream delivery; nothing to ack, nothing to write.
			c.log.Warn("message without metadata", zap.String("subject", m.Subject()))
			continue
		}
		lastPending = md.NumPending
		if md.NumDelivered > 1 {
			c.met.redelivered.WithLabelValues(c.opt.Stream).Inc()
		}
		rec, repairs, err := c.h.Decode(m.Subject(), md.Sequence.Stream, m.Data())
		if err != nil {
			// On failure the message stays unacked and comes back after AckWait.
			_ = c.deadLetter(ctx, m, md.Sequence.Stream, err)
			continue
		}
		if len(repairs) > 0 {
			c.met.repaired.WithLabelValues(c.opt.Stream).Inc()
			c.log.Warn("message repaired to be storable", zap.Uint64("seq", md.Sequence.Stream),
				zap.String("subject", m.Subject()), zap.Strings("repairs", repairs))
		}
		items = append(items, item[T]{msg: m, seq: md.Sequence.Stream, rec: rec})
	}
	c.met.pending.WithLabelValues(c.opt.Stream).Set(float64(lastPending))
	if len(items) == 0 {
		return false
	}
	ok, held := c.writeRetrying(ctx, it, items)
	if !ok {
		return held
	}
	if c.opt.Tracer.Enabled() {
		c.traceStored(ctx, items, start)
	}
	for _, x := range items {
		if x.dead {
			continue
		}
		// A lost ack only costs a redelivery, which the idempotent write absorbs; DoubleAck
		// would add a round trip per message for no safety gained.
		if err := x.msg.Ack(); err != nil {
			c.log.Debug("ack", zap.Uint64("seq", x.seq), zap.Error(err))
		}
	}
	if held {
		c.log.Info("batch written after the outage", zap.Int("messages", len(items)))
	}
	return held
}

// writeRetrying writes items until every one is committed or dead-lettered (ok) or ctx
// ends. Rows Postgres refuses as bad data are split out and dead-lettered; every other error
// is retried, from the first item not yet settled. stopped says the iterator was stopped on
// the way.
func (c *Consumer[T]) writeRetrying(ctx context.Context, it jetstream.MessagesContext, items []item[T]) (ok, stopped bool) {
	retry := c.backoff()
	lastProgress := time.Now()
	pending := items
	for {
		n, err := c.settle(ctx, pending, func() { c.keepAlive(pending, &lastProgress) })
		// What settled stays settled: a retry neither rewrites it nor dead-letters it twice.
		pending = pending[n:]
		if err == nil {
			c.setFailing(nil)
			return true, stopped
		}
		if ctx.Err() != nil {
			return false, stopped
		}
		c.met.writeErrors.WithLabelValues(c.opt.Stream).Inc()
		c.setFailing(err)
		if !stopped {
			// Stop prefetching: what the iterator buffered would only age into redelivery.
			it.Stop()
			stopped = true
			c.log.Error("batch write failed; holding the batch and retrying", zap.Int("messages", len(pending)), zap.Error(err))
		} else {
			c.log.Debug("batch write failed again", zap.Error(err))
		}
		// Keep the held messages ours: without this JetStream would redeliver them (possibly
		// to another replica, which would then be stuck on the same outage) every AckWait.
		// That includes the ones already committed: they are acked with the rest.
		c.keepAlive(items, &lastProgress)
		if !sleep(ctx, min(retry(), c.opt.AckWait/3)) {
			return false, stopped
		}
	}
}

// settle commits items in one transaction or, when Postgres refuses the batch as bad data,
// halves it until the refused rows stand alone: the good rows commit, each refused row is
// dead-lettered with Postgres's reason. A batch of n rows with one bad row costs about
// 2·log2(n) transactions. Items are settled in order; settle returns how many leading items
// are settled (committed or dead-lettered) and the error that stopped it, if any: a
// connection failure in the middle of a split leaves the rest for the retry.
//
// A split takes many transactions, which on a loaded database can outlast AckWait: before
// each half it calls keepAlive, so JetStream does not redeliver the rows not yet settled (to
// another worker, which would dead-letter a refused row a second time).
func (c *Consumer[T]) settle(ctx context.Context, items []item[T], keepAlive func()) (int, error) {
	err := c.write(ctx, items)
	if err == nil {
		return len(items), nil
	}
	if !isDataError(err) {
		return 0, err
	}
	if len(items) == 1 {
		// If the dead letter cannot be published the row must not be acked: fail the write.
		if err := c.deadLetter(ctx, items[0].msg, items[0].seq, &PoisonError{Kind: "rejected", Err: err}); err != nil {
			return 0, err
		}
		items[0].dead = true
		return 1, nil
	}
	c.log.Debug("batch refused as bad data; splitting", zap.Int("messages", len(items)), zap.Error(err))
	half := len(items) / 2
	keepAlive()
	n, err := c.settle(ctx, items[:half], keepAlive)
	if err != nil {
		return n, err
	}
	keepAlive()
	m, err := c.settle(ctx, items[half:], keepAlive)
	return half + m, err
}

// keepAlive tells JetStream that items not dead-lettered are still being worked on, at most
// every AckWait/3 (last is when it last did).
func (c *Consumer[T]) keepAlive(items []item[T], last *time.Time) {
	if time.Since(*last) <= c.opt.AckWait/3 {
		return
	}
	for _, x := range items {
		if !x.dead {
			_ = x.msg.InProgress()
		}
	}
	*last = time.Now()
}

// write commits items in one transaction.
func (c *Consumer[T]) write(ctx context.Context, items []item[T]) error {
	recs := make([]T, len(items))
	for i, x := range items {
		recs[i] = x.rec
	}
	start := time.Now()
	res, err := c.h.Write(ctx, recs)
	if err != nil {
		return err
	}
	c.met.commit.WithLabelValues(c.opt.Stream).Observe(time.Since(start).Seconds())
	c.met.batchSize.WithLabelValues(c.opt.Stream).Observe(float64(len(items)))
	c.met.rows.WithLabelValues(c.opt.Stream, "inserted").Add(float64(res.Inserted))
	c.met.rows.WithLabelValues(c.opt.Stream, "duplicate").Add(float64(res.Duplicates))
	return nil
}

// isDataError reports whether Postgres refused the content itself, which no retry will fix:
// SQLSTATE class 22 (data exception), 23 (integrity violation) and 54 (program limit
// exceeded: a value too large for an index row, a text too long for a tsvector). A limit
// that a whole batch exceeds but its rows do not goes away as settle halves the batch, so
// only a row that exceeds it alone is dead-lettered. Connection failures, shutdowns (57),
// deadlocks and serialization failures (40) and resource shortages (53) are not data errors:
// the batch is held and retried.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// deadLetter publishes m to the dead-letter subject and terminates it. If the publish fails
// it returns the error and m must be left unacked, so it comes back and is tried again.
func (c *Consumer[T]) deadLetter(ctx context.Context, m jetstream.Msg, seq uint64, cause error) error {
	kind := "decode"
	var pe *PoisonError
	if errors.As(cause, &pe) {
		kind = pe.Kind
	}
	dl := &fd.DeadLetter{
		Service: ServiceName,
		Stream:  c.opt.Stream,
		Subject: m.Subject(),
		Seq:     seq,
		Reason:  cause.Error(),
		Data:    m.Data(),
		At:      timestamppb.Now(),
	}
	data, err := proto.Marshal(dl)
	if err != nil {
		return fmt.Errorf("marshal dead letter: %w", err)
	}
	// The id makes a retried dead letter (crash after publish, before term) land once.
	id := fmt.Sprintf("%s/%s/%d", ServiceName, c.opt.Stream, seq)
	if _, err := c.js.Publish(ctx, subjects.DeadLetters(ServiceName), data, jetstream.WithMsgID(id)); err != nil {
		c.log.Warn("dead letter publish failed; message left for redelivery", zap.Uint64("seq", seq), zap.Error(err))
		return fmt.Errorf("publish dead letter: %w", err)
	}
	c.met.deadLetters.WithLabelValues(c.opt.Stream, kind).Inc()
	c.log.Warn("message dead-lettered", zap.Uint64("seq", seq), zap.String("subject", m.Subject()), zap.String("reason", dl.Reason))
	if err := m.TermWithReason(kind); err != nil {
		c.log.Debug("term", zap.Uint64("seq", seq), zap.Error(err))
	}
	return nil
}

// backoff returns a jittered exponential backoff generator between RetryMin and RetryMax.
func (c *Consumer[T]) backoff() func() time.Duration {
	d := c.opt.RetryMin
	return func() time.Duration {
		cur := d
		d = min(2*d, c.opt.RetryMax)
		// Full jitter on half the delay keeps replicas from retrying in lockstep.
		return cur/2 + rand.N(cur/2+1)
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
