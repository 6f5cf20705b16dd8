// Package app is the dispatcher's composition root: configuration, and the wiring of NATS,
// the JetStream topology it uses, the tenants view, the dispatch engine and the ops server.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/engine"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// DefaultOpsAddr is the dispatcher's ops port.
const DefaultOpsAddr = ":9091"

// Settings are the dispatcher's own settings (key "dispatcher", env FRONTDESK_DISPATCHER_*),
// documented on engine.Settings. Tenant settings (grace period, offer timeout, missed offers,
// hook timeout) override the matching defaults per tenant.
type Settings = engine.Settings

// Config is the dispatcher's configuration.
type Config struct {
	config.Base `mapstructure:",squash"`
	// Dispatcher holds the dispatcher's own settings.
	Dispatcher Settings `mapstructure:"dispatcher"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	b := config.DefaultBase()
	b.NATS.Name = "dispatcher"
	b.Ops.Addr = DefaultOpsAddr
	return Config{Base: b, Dispatcher: engine.DefaultSettings()}
}

// Validate checks the configuration; errors name the key.
func (c Config) Validate() error {
	d := c.Dispatcher
	errs := []error{c.Base.Validate(), config.Between("dispatcher.partitions", d.Partitions, 1, 4096)}
	for _, x := range []struct {
		key string
		v   time.Duration
	}{{"dispatcher.lease_ttl", d.LeaseTTL}, {"dispatcher.tick", d.Tick}, {"dispatcher.coalesce", d.Coalesce},
		{"dispatcher.grace", d.Grace}, {"dispatcher.presence_ttl", d.PresenceTTL}, {"dispatcher.offer_timeout", d.OfferTimeout},
		{"dispatcher.hook_timeout", d.HookTimeout}, {"dispatcher.handle_prior", d.HandlePrior}} {
		errs = append(errs, config.PositiveDuration(x.key, x.v))
	}
	if d.StarveAfter < 0 {
		errs = append(errs, &config.FieldError{Key: "dispatcher.starve_after", Msg: "must not be negative (0 turns it off)"})
	}
	if d.LeaseTTL > 0 && d.Tick > 0 && d.LeaseTTL < 4*d.Tick {
		errs = append(errs, &config.FieldError{Key: "dispatcher.lease_ttl", Msg: "must be at least 4 x dispatcher.tick"})
	}
	if d.MaxMissedOffers < 1 {
		errs = append(errs, &config.FieldError{Key: "dispatcher.max_missed_offers", Msg: "must be at least 1"})
	}
	return errors.Join(errs...)
}

// Service is a running dispatcher replica.
type Service struct {
	cfg    Config
	log    *zap.Logger
	stack  *lifecycle.Stack
	nc     *nats.Conn
	ops    *ops.Server
	engine *engine.Engine
	store  *tenants.Store

	started func() // called when New wired everything: /readyz fails before
}

// New connects, provisions what the dispatcher uses, and wires the engine; Run dispatches.
// On error everything already started is stopped.
func New(ctx context.Context, cfg Config, log *zap.Logger) (s *Service, err error) {
	s = &Service{cfg: cfg, log: log, stack: lifecycle.NewStack(log)}
	defer func() {
		if err != nil {
			_ = s.stack.Shutdown(ctx, cfg.Shutdown.Timeout)
		}
	}()
	reg := ops.NewRegistry()
	// The start-up policy of every service (startup): the ops server answers from the start
	// and /readyz says what is missing while the dispatcher waits for NATS, the topology and
	// its tenant view. Tracing stops after the NATS drain: the last commands' spans are exported.
	base, err := startup.Begin(ctx, s.stack, cfg.Base, "dispatcher", log, reg, startup.Options{})
	if err != nil {
		return nil, err
	}
	s.ops, s.nc = base.Ops, base.NC
	tp, js := base.Tracer, base.JS
	s.started = s.ops.AddPending("started", "starting: waiting for the streams and the tenant view")
	if err := s.ops.Start(ctx); err != nil {
		return nil, err
	}
	top := streams.Declared(streams.Options{Replicas: cfg.NATS.Replicas}).Only(subjects.StreamMessages,
		subjects.StreamEvents, subjects.StreamCommands, subjects.StreamDeadLetters, subjects.BucketTenants, subjects.BucketConversations,
		subjects.BucketParticipants, subjects.BucketOpen, subjects.BucketDispatcher)
	// The provisioner creates the topology (the dispatcher may not): wait for it.
	if err := streams.Await(ctx, js, top, log); err != nil {
		return nil, err
	}
	// The watch outlives ctx so the engine keeps its tenant view while it hands over.
	if s.store, err = startup.Tenants(ctx, s.stack, js, cfg.Tenants.File, s.ops, log); err != nil {
		return nil, err
	}
	set := cfg.Dispatcher
	if set.Instance == "" {
		host, _ := os.Hostname()
		set.Instance = host + "-" + nats.NewInbox()[len(nats.InboxPrefix):][:6]
	}
	if s.engine, err = engine.New(ctx, s.nc, js, s.store, set, log.Named("engine"), reg,
		engine.WithTracer(tp.Tracer("dispatcher/engine"))); err != nil {
		return nil, err
	}
	s.started()
	return s, nil
}

// OpsAddr is the bound ops address.
func (s *Service) OpsAddr() string { return s.ops.Addr() }

// Engine is the dispatch engine (tests).
func (s *Service) Engine() *engine.Engine { return s.engine }

// Run dispatches until ctx is cancelled, then hands its partitions over (state flushed,
// leases released) and shuts down within cfg.Shutdown.Timeout.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("dispatcher running", zap.String("instance", s.engine.Instance()), zap.String("ops", s.OpsAddr()))
	err := s.engine.Run(ctx)
	s.ops.SetDraining()
	return errors.Join(err, s.stack.Shutdown(context.WithoutCancel(ctx), s.cfg.Shutdown.Timeout))
}

// Run runs a dispatcher with cfg until ctx is cancelled.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Provision creates or updates the whole JetStream topology (`dispatcher provision`, the
// chart's provisioning Job) with cfg.NATS, whose credentials are the provisioner's, and
// returns. The services themselves only wait for it (streams.Await): none may change a stream.
// It retries until NATS answers or ctx ends, so the Job may start before the NATS cluster.
func Provision(ctx context.Context, cfg Config, log *zap.Logger) error {
	nc, err := natsconn.Connect(ctx, cfg.NATS, log.Named("nats"), nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := natsconn.WaitConnected(ctx, nc); err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	top := streams.Declared(streams.Options{Replicas: cfg.NATS.Replicas, StorageBytes: cfg.NATS.StorageBytes})
	if err := lifecycle.RetryUntil(ctx, log, "provision streams", func() error { return streams.Provision(ctx, js, top) }); err != nil {
		return err
	}
	log.Info("provisioned", zap.Strings("assets", top.Names()), zap.Int("replicas", max(cfg.NATS.Replicas, 1)))
	return nil
}
