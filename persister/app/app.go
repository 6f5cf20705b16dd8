// Package app is the persister's composition root: configuration, connections, and the parts
// (migrations, stream ingest, query responders, retention) wired together and shut down in
// order.
package app

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/pg"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/tracing"

	"github.com/frontdesk-chat/frontdesk/persister/internal/erase"
	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/mail"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/query"
	"github.com/frontdesk-chat/frontdesk/persister/internal/retention"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// DefaultOpsAddr is the persister's ops port.
const DefaultOpsAddr = ":9092"

// Durable consumer names, shared by every replica.
const (
	DurableMessages = subjects.DurablePersisterMessages
	DurableEvents   = subjects.DurablePersisterEvents
	DurableReads    = subjects.DurablePersisterReads
)

// Config is the persister's configuration.
type Config struct {
	config.Base `mapstructure:",squash"`
	// Database is the Postgres record.
	Database config.Database `mapstructure:"database"`
	// Persister holds the persister's own settings.
	Persister Settings `mapstructure:"persister"`
}

// Settings are the persister's own settings (key prefix "persister.").
type Settings struct {
	// Migrate applies the schema migrations at start (default true). Turn it off when a Helm
	// hook job runs `persister migrate` before the rollout.
	Migrate bool `mapstructure:"migrate"`
	// BatchSize is the most messages written in one transaction (default 5000: with a backlog,
	// 10-14% less Postgres CPU per row than 2000, mostly fewer report-facts upserts per row,
	// one per conversation and batch; see BENCHMARKS.md). Batches are group
	// commits: a worker writes what has arrived as soon as its previous transaction
	// committed, so a batch fills to BatchSize only when messages arrive faster than that.
	BatchSize int `mapstructure:"batch_size"`
	// Workers is the number of batches each replica writes concurrently per stream
	// (default 2).
	Workers int `mapstructure:"workers"`
	// BatchWait is how long a worker waits after the first message of a batch for more
	// before writing it (default 50ms; 0: group commit, a lone message is written at once).
	// A wait trades ack->commit latency for fewer transactions at moderate rates, and
	// Postgres pays per transaction: at 1,000 msg/s + 500 replies, 0 cost 0.39 cores of
	// Postgres against 0.14 with 50ms (BENCHMARKS.md). From a backlog batches are full
	// either way.
	BatchWait time.Duration `mapstructure:"batch_wait"`
	// BatchFill ends a batch's wait early once it holds that many messages (default 32;
	// 0: always the whole wait). At 5,000 msg/s a 50ms wait aged every row by up to 50ms
	// (ack->commit p99 65ms) for batches far larger than a transaction needs; with 32 the p99
	// is 15ms there, while at low rates, where the wait earns its keep, a batch still waits
	// most of it: at 1,500 msg/s 16 cost Postgres 0.03 more cores, 32 about 0.01
	// (BENCHMARKS.md, "Session 9").
	BatchFill int `mapstructure:"batch_fill"`
	// AckWait is how long JetStream waits for an ack before redelivering to another replica
	// (default 30s).
	AckWait time.Duration `mapstructure:"ack_wait"`
	// MaxAckPending bounds unacked messages per consumer across replicas (default 20000).
	MaxAckPending int `mapstructure:"max_ack_pending"`
	// RetryMin and RetryMax bound the backoff between write attempts while Postgres fails
	// (defaults 100ms and 5s).
	RetryMin time.Duration `mapstructure:"retry_min"`
	RetryMax time.Duration `mapstructure:"retry_max"`
	// QueryTimeout bounds one query (default 5s).
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// QueryConcurrency bounds queries in flight per replica (default 16).
	QueryConcurrency int `mapstructure:"query_concurrency"`
	// RetentionInterval is the time between retention runs (default 10m).
	RetentionInterval time.Duration `mapstructure:"retention_interval"`
	// RetentionBatch is the most messages one retention statement changes (default 1000).
	RetentionBatch int `mapstructure:"retention_batch"`
	// RetentionMaxBatches bounds the batches per tenant per run (default 100).
	RetentionMaxBatches int `mapstructure:"retention_max_batches"`
	// Mail is the SMTP relay of transcripts by email (persister.mail.*); no addr: off.
	Mail mail.Relay `mapstructure:"mail"`
	// RetentionCreds is the .creds file of the retention identity (natsauth user
	// "retention"), with which retention runs and erasures purge and delete on a second
	// connection; the persister's own identity may then not purge anything. Empty: they use
	// the service's connection (development, a NATS without auth).
	RetentionCreds string `mapstructure:"retention_creds"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	b := config.DefaultBase()
	b.Ops.Addr = DefaultOpsAddr
	b.NATS.Name = "persister"
	return Config{
		Base:     b,
		Database: config.DefaultDatabase(),
		Persister: Settings{
			Migrate:             true,
			BatchSize:           5000,
			BatchWait:           50 * time.Millisecond,
			BatchFill:           32,
			Workers:             2,
			AckWait:             30 * time.Second,
			MaxAckPending:       20000,
			RetryMin:            100 * time.Millisecond,
			RetryMax:            5 * time.Second,
			QueryTimeout:        5 * time.Second,
			QueryConcurrency:    16,
			RetentionInterval:   10 * time.Minute,
			RetentionBatch:      1000,
			RetentionMaxBatches: 100,
		},
	}
}

// Validate checks the configuration; errors name the key.
func (c Config) Validate() error {
	p := c.Persister
	errs := []error{c.Base.Validate(), c.Database.Check("database"), p.Mail.Validate()}
	if err := config.Between("persister.batch_size", p.BatchSize, 1, 10000); err != nil {
		errs = append(errs, err)
	}
	if err := config.Between("persister.workers", p.Workers, 1, 64); err != nil {
		errs = append(errs, err)
	}
	for key, d := range map[string]time.Duration{
		"persister.ack_wait":  p.AckWait,
		"persister.retry_min": p.RetryMin, "persister.retry_max": p.RetryMax,
		"persister.query_timeout": p.QueryTimeout, "persister.retention_interval": p.RetentionInterval,
	} {
		if err := config.PositiveDuration(key, d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := config.Between("persister.batch_fill", p.BatchFill, 0, p.BatchSize); err != nil {
		errs = append(errs, err)
	}
	if p.BatchWait < 0 || p.BatchWait > time.Second {
		errs = append(errs, &config.FieldError{Key: "persister.batch_wait", Msg: "must be between 0 and 1s"})
	}
	if p.RetryMax < p.RetryMin {
		errs = append(errs, &config.FieldError{Key: "persister.retry_max", Msg: "must not be below retry_min"})
	}
	if p.AckWait < time.Second {
		errs = append(errs, &config.FieldError{Key: "persister.ack_wait", Msg: "must be at least 1s"})
	}
	if p.MaxAckPending < p.BatchSize {
		errs = append(errs, &config.FieldError{Key: "persister.max_ack_pending", Msg: "must be at least batch_size"})
	}
	if p.QueryConcurrency < 1 {
		errs = append(errs, &config.FieldError{Key: "persister.query_concurrency", Msg: "must be at least 1"})
	}
	if p.RetentionBatch < 1 || p.RetentionMaxBatches < 1 {
		errs = append(errs, &config.FieldError{Key: "persister.retention_batch", Msg: "retention_batch and retention_max_batches must be at least 1"})
	}
	return errors.Join(errs...)
}

// Service is a running persister.
type Service struct {
	cfg    Config
	log    *zap.Logger
	reg    *prometheus.Registry
	nc     *nats.Conn
	js     jetstream.JetStream
	pool   *pgxpool.Pool
	ops    *ops.Server
	stack  *lifecycle.Stack
	tracer *tracing.Provider

	// migrated is called once the schema is up to date; answering is opened once Run has
	// started every consumer and query subscription and flushed them to the server. /readyz
	// says not ready until then.
	migrated  func()
	answering *startup.Gate
}

// New connects to NATS and Postgres (both lazily: an outage at start shows in /readyz rather
// than failing the process) and starts the ops server; Run waits for the topology, the
// schema and the tenant view, and does the rest. On error everything already started is
// stopped.
func New(ctx context.Context, cfg Config, log *zap.Logger) (_ *Service, err error) {
	s := &Service{cfg: cfg, log: log, reg: ops.NewRegistry(), stack: lifecycle.NewStack(log)}
	defer func() {
		if err != nil {
			_ = s.stack.Shutdown(ctx, cfg.Shutdown.Timeout)
		}
	}()
	// The start-up policy of every service (startup). Tracing stops after the NATS drain
	// (which flushes the last acks and replies): the spans of the last batches are exported.
	base, err := startup.Begin(ctx, s.stack, cfg.Base, "persister", log, s.reg, startup.Options{})
	if err != nil {
		return nil, err
	}
	s.ops, s.nc, s.js, s.tracer = base.Ops, base.NC, base.JS, base.Tracer
	s.pool, err = pg.Connect(ctx, cfg.Database, log.Named("pg"))
	if err != nil {
		return nil, err
	}
	s.stack.Push("postgres", func(context.Context) error { s.pool.Close(); return nil })

	s.ops.AddCheck("postgres", pg.Ready(s.pool))
	// Registered here, not in Run: a check added while /readyz is already being polled leaves a
	// moment when every check present passes and the service is called ready before Run has
	// subscribed to the queries (a client then meets "no responders").
	s.answering = startup.NewGate(s.ops, "queries", "not answering queries yet")
	s.migrated = s.ops.AddPending("schema", "migrations not applied yet")
	if err := s.ops.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the ops server's bound address.
func (s *Service) Addr() string { return s.ops.Addr() }

// Registry is the service's metrics registry.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Started is closed once Run answers queries (see startup.Gate).
func (s *Service) Started() <-chan struct{} { return s.answering.Opened() }

// Run prepares the record (migrations), the streams and the tenant view, then ingests and
// answers queries until ctx ends, and shuts down within cfg.Shutdown.Timeout.
func (s *Service) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.ops.SetDraining()
	return errors.Join(err, s.stack.Shutdown(ctx, s.cfg.Shutdown.Timeout))
}

func (s *Service) run(ctx context.Context) error {
	// Everything below needs live servers; until they answer, /readyz says why.
	// The provisioner creates the topology (the persister may not): wait for it. The tenants
	// bucket only when the persister seeds it.
	// Retention and erasures also purge the commands stream and the conversation, participation,
	// open and quota buckets, and delete attachments.
	names := []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads, subjects.StreamDeadLetters,
		subjects.StreamCommands, subjects.BucketConversations, subjects.BucketParticipants, subjects.BucketOpen,
		subjects.BucketQuotas, subjects.ObjectAttachments, subjects.StreamNotes}
	if s.cfg.Tenants.File != "" {
		names = append(names, subjects.BucketTenants)
	}
	if err := startup.Topology(ctx, s.nc, s.js, s.cfg.NATS.Replicas, s.log, names...); err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	if s.cfg.Persister.Migrate {
		if err := lifecycle.RetryUntil(ctx, s.log, "migrate", func() error {
			_, err := migrate.Apply(ctx, s.pool, s.log.Named("migrate"))
			if errors.Is(err, migrate.ErrChanged) {
				// An edited migration does not fix itself: stop retrying and fail the start.
				return lifecycle.Permanent(err)
			}
			return err
		}); err != nil {
			return lifecycle.IgnoreCanceled(ctx, err)
		}
	}
	s.migrated()

	// The watch outlives ctx until the stack stops it, so retention and queries keep their
	// tenant view while they drain.
	ts, err := startup.Tenants(ctx, s.stack, s.js, s.cfg.Tenants.File, s.ops, s.log)
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	known := func(id string) bool { _, ok := ts.Get(id); return ok }
	zone := func(id string) string { t, _ := ts.Get(id); return t.GetHours().GetTimeZone() }

	st := store.New(s.pool)
	p := s.cfg.Persister
	met := ingest.NewMetrics(s.reg)
	opts := func(stream, durable string) ingest.Options {
		return ingest.Options{
			Stream: stream, Durable: durable, BatchSize: p.BatchSize, BatchWait: p.BatchWait, BatchFill: p.BatchFill,
			AckWait: p.AckWait, MaxAckPending: p.MaxAckPending, RetryMin: p.RetryMin, RetryMax: p.RetryMax,
			ShutdownGrace: s.cfg.Shutdown.Timeout / 2, Workers: p.Workers, Tracer: s.tracer.Tracer("persister/ingest"),
		}
	}
	msgs := ingest.NewConsumer(s.js, opts(subjects.StreamMessages, DurableMessages),
		ingest.Handler[store.MessageRow]{Decode: ingest.DecodeMessage, Write: st.WriteMessages}, met, s.log.Named("ingest"))
	// FD_EVENTS holds conversation events and agents' status events: a consumer for each.
	eventOpts := opts(subjects.StreamEvents, DurableEvents)
	eventOpts.FilterSubject = subjects.AllEvents()
	events := ingest.NewConsumer(s.js, eventOpts,
		ingest.Handler[store.EventRow]{Decode: ingest.DecodeEvent, Write: st.WriteEvents}, met, s.log.Named("ingest"))
	occOpts := opts(subjects.StreamEvents, subjects.DurablePersisterOccupancy)
	occOpts.FilterSubject = subjects.AllAgentStatus()
	occupancy := ingest.NewConsumer(s.js, occOpts,
		ingest.Handler[store.AgentStatusRow]{Decode: ingest.DecodeAgentStatus, Write: st.WriteAgentStatus}, met, s.log.Named("ingest"))
	reads := ingest.NewConsumer(s.js, opts(subjects.StreamReads, DurableReads),
		ingest.Handler[store.ReadRow]{Decode: ingest.DecodeRead, Write: st.WriteReads}, met, s.log.Named("ingest"))
	notes := ingest.NewConsumer(s.js, opts(subjects.StreamNotes, subjects.DurablePersisterNotes),
		ingest.Handler[store.NoteRow]{Decode: ingest.DecodeNote, Write: st.WriteNotes}, met, s.log.Named("ingest"))
	s.ops.AddCheck("ingest", func(ctx context.Context) error {
		return errors.Join(msgs.Ready(ctx), events.Ready(ctx), reads.Ready(ctx), notes.Ready(ctx), occupancy.Ready(ctx))
	})

	qs := query.New(s.nc, st, query.Options{
		Timeout: p.QueryTimeout, Concurrency: p.QueryConcurrency, KnownTenant: known, TimeZone: zone,
		PublishEvent: func(ctx context.Context, subject, id string, data []byte) error {
			_, err := s.js.Publish(ctx, subject, data, jetstream.WithMsgID(id))
			return err
		},
	}, s.reg, s.log.Named("query"))
	rjs, err := s.connectRetention(ctx) // purge.go
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	b, err := openBus(ctx, rjs)
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	eraser := newEraser(s.pool, rjs, s.js, b, s.log.Named("erase"))
	ret := retention.New(st, ts, retention.Options{
		Interval: p.RetentionInterval, BatchSize: p.RetentionBatch, MaxBatches: p.RetentionMaxBatches,
		Bus: b, JS: rjs, Resume: eraser.Resume,
	}, s.reg, s.log.Named("retention"))
	erasures := erase.NewResponder(s.nc, eraser, eraseTimeout, s.log.Named("erase"))

	// The workers stop before the connections (the stack stops in reverse): consumers finish
	// and ack their batch, queries in flight are answered.
	// A worker's error is logged and the others keep going (the consumer retries on its own).
	s.stack.Go(ctx, "ingest", func(ctx context.Context) error {
		var wg sync.WaitGroup
		for _, run := range []func(context.Context) error{msgs.Run, events.Run, reads.Run, notes.Run, occupancy.Run, ret.Run} {
			wg.Go(func() {
				if err := run(ctx); err != nil {
					s.log.Error("worker stopped", zap.Error(err))
				}
			})
		}
		wg.Wait()
		return nil
	})
	// Transcripts by email: the requests are rows of the record, taken by one replica each.
	if p.Mail.Addr != "" {
		snd := mail.NewSender(st, ts, p.Mail, nil, os.Getenv, s.reg, s.log.Named("mail"))
		s.stack.Go(ctx, "mail", snd.Run)
	}
	if err := qs.Start(); err != nil {
		return err
	}
	s.stack.Push("queries", qs.Stop)
	if err := erasures.Start(); err != nil {
		return err
	}
	s.stack.Push("erasures", erasures.Stop)
	// A flush that fails (NATS away at this moment) only means the server learns of the
	// subscriptions when the connection is back; the persister keeps running either way.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := s.nc.FlushWithContext(fctx); err != nil {
		s.log.Warn("flush query subscriptions", zap.Error(err))
	}
	cancel()
	// Ready only once queries are answered: a client that saw /readyz answer 200 must not
	// meet "no responders" (the subscriptions are flushed to the server first).
	s.answering.Open()
	s.log.Info("persister running")
	<-ctx.Done()
	return nil
}

// Migrate applies the migrations once and returns: the `persister migrate` command, for a
// Helm hook job that runs before the rollout.
func Migrate(ctx context.Context, cfg Config, log *zap.Logger) error {
	pool, err := pg.Connect(ctx, cfg.Database, log.Named("pg"))
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := migrate.Apply(ctx, pool, log.Named("migrate"))
	if err != nil {
		return err
	}
	log.Info("schema up to date", zap.Int("version", res.Current), zap.Ints("applied", res.Applied))
	return nil
}

// Run runs the persister until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
