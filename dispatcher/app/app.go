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
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/engine"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
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
	js     jetstream.JetStream
	ops    *ops.Server
	tracer *tracing.Provider
	reg    *prometheus.Registry
	// started is opened by Run once the engine runs; /readyz fails before.
	started *startup.Gate
}

// New connects to NATS (lazily: an outage at start shows in /readyz rather than failing the
// process) and starts the ops server; Run waits for the topology and the tenant view and
// dispatches. On error everything already started is stopped.
func New(ctx context.Context, cfg Config, log *zap.Logger) (_ *Service, err error) {
	// s is not the named result: a failing return sets that to nil before the cleanup below.
	s := &Service{cfg: cfg, log: log, stack: lifecycle.NewStack(log), reg: ops.NewRegistry()}
	defer func() {
		if err != nil {
			_ = s.stack.Shutdown(ctx, cfg.Shutdown.Timeout)
		}
	}()
	// The start-up policy of every service (startup). Tracing stops after the NATS drain: the
	// last commands' spans are exported.
	base, err := startup.Begin(ctx, s.stack, cfg.Base, "dispatcher", log, s.reg, startup.Options{})
	if err != nil {
		return nil, err
	}
	s.ops, s.nc, s.js, s.tracer = base.Ops, base.NC, base.JS, base.Tracer
	s.started = startup.NewGate(s.ops, "started", "starting: waiting for the streams and the tenant view")
	if err := s.ops.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// OpsAddr is the bound ops address.
func (s *Service) OpsAddr() string { return s.ops.Addr() }

// Started is closed once Run has started the engine (see startup.Gate).
func (s *Service) Started() <-chan struct{} { return s.started.Opened() }

// Run waits for the topology and the tenant view, dispatches until ctx is cancelled, then
// hands its partitions over (state flushed, leases released) and shuts down within
// cfg.Shutdown.Timeout.
func (s *Service) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.ops.SetDraining()
	return errors.Join(err, s.stack.Shutdown(ctx, s.cfg.Shutdown.Timeout))
}

func (s *Service) run(ctx context.Context) error {
	// The provisioner creates the topology (the dispatcher may not): wait for it.
	if err := startup.Topology(ctx, s.nc, s.js, s.cfg.NATS.Replicas, s.log, subjects.StreamMessages,
		subjects.StreamEvents, subjects.StreamCommands, subjects.StreamDeadLetters, subjects.BucketTenants,
		subjects.BucketConversations, subjects.BucketParticipants, subjects.BucketOpen, subjects.BucketDispatcher); err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	// The watch outlives ctx so the engine keeps its tenant view while it hands over.
	store, err := startup.Tenants(ctx, s.stack, s.js, s.cfg.Tenants.File, s.ops, s.log)
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	set := s.cfg.Dispatcher
	if set.Instance == "" {
		host, _ := os.Hostname()
		set.Instance = host + "-" + nats.NewInbox()[len(nats.InboxPrefix):][:6]
	}
	eng, err := engine.New(ctx, s.nc, s.js, store, set, s.log.Named("engine"), s.reg,
		engine.WithTracer(s.tracer.Tracer("dispatcher/engine")))
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	s.started.Open()
	s.log.Info("dispatcher running", zap.String("instance", eng.Instance()), zap.String("ops", s.OpsAddr()))
	return eng.Run(ctx)
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
