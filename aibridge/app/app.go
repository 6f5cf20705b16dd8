// Package app is the AI bridge's composition root: configuration, the NATS connection, the
// tenant view, the knowledge bases, the model clients, and the parts (the bot consumer, the
// fence watcher, the assist responder) wired together and shut down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/tracing"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/assist"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/bot"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/convo"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/kb"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llm"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/stt"
)

// DefaultOpsAddr is the AI bridge's ops port.
const DefaultOpsAddr = ":9093"

// Config is the AI bridge's configuration.
type Config struct {
	config.Base `mapstructure:",squash"`
	// AIBridge holds the bridge's own settings.
	AIBridge Settings `mapstructure:"aibridge"`
}

// Settings are the bridge's own settings (key prefix "aibridge.").
type Settings struct {
	// Workers is how many customer messages one replica answers at once (default 32).
	Workers int `mapstructure:"workers"`
	// AckWait is how long a delivery may go without an ack or progress report before JetStream
	// gives it to another replica (default 60s).
	AckWait time.Duration `mapstructure:"ack_wait"`
	// MaxDeliver bounds deliveries of one message before it is dead-lettered (default 5).
	MaxDeliver int `mapstructure:"max_deliver"`
	// PartialInterval is the least time between two streamed partial frames (default 50ms).
	PartialInterval time.Duration `mapstructure:"partial_interval"`
	// BotName is the display name of bot messages (default empty: the widget and the console
	// then show their own localized word for the assistant, which a fixed name would override).
	BotName string `mapstructure:"bot_name"`
	// KnowledgeRoot resolves relative knowledge paths of tenant configs (default: the working
	// directory).
	KnowledgeRoot string `mapstructure:"knowledge_root"`
	// KnowledgePoll is how often knowledge files are checked for changes (default 5s).
	KnowledgePoll time.Duration `mapstructure:"knowledge_poll"`
	// ModelRetries is how many times a failed model request is retried before the first token
	// (default 2).
	ModelRetries int `mapstructure:"model_retries"`
	// ModelBackoff is the first retry delay, doubled each retry (default 300ms).
	ModelBackoff time.Duration `mapstructure:"model_backoff"`
	// FirstTokenTimeout is the longest wait for a model's first token before the attempt
	// counts as failed (default 15s; capped by the tenant's timeout_s).
	FirstTokenTimeout time.Duration `mapstructure:"first_token_timeout"`
	// BreakerFailures opens a tenant model's circuit breaker after this many consecutive
	// failed requests (default 5).
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerCooldown is how long an open breaker refuses requests (default 30s).
	BreakerCooldown time.Duration `mapstructure:"breaker_cooldown"`
	// AssistWorkers bounds concurrent assist requests per replica (default 16).
	AssistWorkers int `mapstructure:"assist_workers"`
	// AssistTimeout bounds one suggestion (default 4s, below the gateway's default 5s request
	// timeout; a model slower than this yields the knowledge-base suggestion instead).
	AssistTimeout time.Duration `mapstructure:"assist_timeout"`
	// HistoryCache is how many conversations' recent turns one replica caches (default 10000).
	HistoryCache int `mapstructure:"history_cache"`
	// MaxOwners bounds the conversations one replica remembers as owned by a human (assigned
	// or closed), whose customer messages it then settles without reading the conversations
	// bucket (default 500000, about 100 bytes each); past it, messages cost a read again.
	MaxOwners int `mapstructure:"max_owners"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	b := config.DefaultBase()
	b.Ops.Addr = DefaultOpsAddr
	b.NATS.Name = "aibridge"
	return Config{
		Base: b,
		AIBridge: Settings{
			Workers:           32,
			AckWait:           time.Minute,
			MaxDeliver:        5,
			PartialInterval:   50 * time.Millisecond,
			KnowledgePoll:     5 * time.Second,
			ModelRetries:      2,
			ModelBackoff:      300 * time.Millisecond,
			FirstTokenTimeout: 15 * time.Second,
			BreakerFailures:   5,
			BreakerCooldown:   30 * time.Second,
			AssistWorkers:     16,
			AssistTimeout:     4 * time.Second,
			HistoryCache:      10000,
			MaxOwners:         convo.DefaultMaxOwners,
		},
	}
}

// Validate checks the configuration; errors name the key.
func (c Config) Validate() error {
	a := c.AIBridge
	errs := []error{c.Base.Validate()}
	for key, v := range map[string][3]int{
		"aibridge.workers":          {a.Workers, 1, 4096},
		"aibridge.max_deliver":      {a.MaxDeliver, 1, 100},
		"aibridge.model_retries":    {a.ModelRetries, 0, 10},
		"aibridge.breaker_failures": {a.BreakerFailures, 1, 1000},
		"aibridge.assist_workers":   {a.AssistWorkers, 1, 4096},
		"aibridge.history_cache":    {a.HistoryCache, 1, 10_000_000},
		"aibridge.max_owners":       {a.MaxOwners, 1, 10_000_000},
	} {
		if err := config.Between(key, v[0], v[1], v[2]); err != nil {
			errs = append(errs, err)
		}
	}
	for key, d := range map[string]time.Duration{
		"aibridge.partial_interval": a.PartialInterval, "aibridge.knowledge_poll": a.KnowledgePoll,
		"aibridge.model_backoff": a.ModelBackoff, "aibridge.first_token_timeout": a.FirstTokenTimeout,
		"aibridge.breaker_cooldown": a.BreakerCooldown, "aibridge.assist_timeout": a.AssistTimeout,
	} {
		if err := config.PositiveDuration(key, d); err != nil {
			errs = append(errs, err)
		}
	}
	if a.AckWait < 3*time.Second {
		errs = append(errs, &config.FieldError{Key: "aibridge.ack_wait", Msg: "must be at least 3s"})
	}
	return errors.Join(errs...)
}

// Option adjusts a Service for tests.
type Option func(*Service)

// WithGetenv replaces os.Getenv for reading tenants' model API keys.
func WithGetenv(getenv func(string) string) Option { return func(s *Service) { s.getenv = getenv } }

// Service is a running AI bridge.
type Service struct {
	cfg    Config
	log    *zap.Logger
	reg    *prometheus.Registry
	nc     *nats.Conn
	js     jetstream.JetStream
	ops    *ops.Server
	stack  *lifecycle.Stack
	getenv func(string) string
	tracer *tracing.Provider
	// consuming is opened by Run once it consumes; /readyz says not ready until then.
	consuming *startup.Gate
}

// New connects to NATS (lazily: an outage at start shows in /readyz rather than failing the
// process) and starts the ops server; Run waits for the topology and the tenant view, and
// does the rest. On error everything already started is stopped.
func New(ctx context.Context, cfg Config, log *zap.Logger, opts ...Option) (_ *Service, err error) {
	s := &Service{cfg: cfg, log: log, reg: ops.NewRegistry(), stack: lifecycle.NewStack(log), getenv: os.Getenv}
	for _, o := range opts {
		o(s)
	}
	defer func() {
		if err != nil {
			_ = s.stack.Shutdown(ctx, cfg.Shutdown.Timeout)
		}
	}()
	// The start-up policy of every service (startup). Tracing stops after the NATS drain: the
	// spans of the last replies are exported.
	base, err := startup.Begin(ctx, s.stack, cfg.Base, "aibridge", log, s.reg, startup.Options{})
	if err != nil {
		return nil, err
	}
	s.ops, s.nc, s.js, s.tracer = base.Ops, base.NC, base.JS, base.Tracer
	// Run opens consuming only after it has added its own checks (tenants, fence), so /readyz
	// cannot call the bridge ready while they are missing (the persister once could: its late
	// check was the only one failing). Checks Run adds must stay before consuming is opened.
	s.consuming = startup.NewGate(s.ops, "consumer", "not consuming yet")
	if err := s.ops.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the ops server's bound address.
func (s *Service) Addr() string { return s.ops.Addr() }

// Registry is the service's metrics registry.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Started is closed once Run consumes (see startup.Gate).
func (s *Service) Started() <-chan struct{} { return s.consuming.Opened() }

// Run prepares the streams and the tenant view, then answers until ctx ends, and shuts down
// within cfg.Shutdown.Timeout: the consumer stops pulling, replies in flight finish (or are
// left for redelivery at the deadline), the assist subscription drains, then NATS.
func (s *Service) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.ops.SetDraining()
	return errors.Join(err, s.stack.Shutdown(ctx, s.cfg.Shutdown.Timeout))
}

func (s *Service) run(ctx context.Context) error {
	a := s.cfg.AIBridge
	// The provisioner creates the topology (the bridge may not): wait for it.
	if err := startup.Topology(ctx, s.nc, s.js, s.cfg.NATS.Replicas, s.log, subjects.StreamMessages, subjects.StreamEvents,
		subjects.StreamCommands, subjects.StreamDeadLetters, subjects.BucketTenants, subjects.BucketConversations); err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	store, err := startup.Tenants(ctx, s.stack, s.js, s.cfg.Tenants.File, s.ops, s.log)
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	var (
		convKV jetstream.KeyValue
		msgs   jetstream.Stream
	)
	if err := lifecycle.RetryUntil(ctx, s.log, "open streams", func() (err error) {
		if convKV, err = s.js.KeyValue(ctx, subjects.BucketConversations); err != nil {
			return err
		}
		msgs, err = s.js.Stream(ctx, subjects.StreamMessages)
		return err
	}); err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}

	met := metrics.New(s.reg)
	fence := convo.NewFence(s.log.Named("fence"))
	fenceRun := s.stack.Go(ctx, "fence", func(ctx context.Context) error { return fence.Run(ctx, convKV) })
	select {
	case <-fence.Ready():
	case <-fenceRun.Done():
		return fmt.Errorf("conversation watcher: %w", fenceRun.Err())
	case <-ctx.Done():
		return nil
	}
	s.ops.AddCheck("fence", func(context.Context) error {
		select {
		case <-fenceRun.Done():
			return fmt.Errorf("conversation watcher stopped: %v", fenceRun.Err())
		default:
			return nil
		}
	})

	owners := convo.NewOwners(s.log.Named("owners"), a.MaxOwners)
	// Not a readiness check: while it is not running the bot reads the bucket instead.
	if err := s.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "frontdesk_aibridge_owners",
		Help: "Conversations this replica remembers as owned by a human (assigned or closed).",
	}, func() float64 { return float64(owners.Len()) })); err != nil {
		return fmt.Errorf("register owners gauge: %w", err)
	}
	ownersLog := s.log.Named("owners")
	s.stack.Go(ctx, "owners", func(ctx context.Context) error {
		err := owners.Run(ctx, convKV)
		if err != nil {
			ownersLog.Warn("owner watch stopped; every customer message reads the bucket", zap.Error(err))
		}
		return err
	})

	library := kb.NewLibrary(a.KnowledgeRoot, a.KnowledgePoll, s.log.Named("kb"))
	models := llm.NewPool(nil)
	history := convo.NewHistory(msgs, a.HistoryCache)
	modelBase := llm.Settings{
		Retries: a.ModelRetries, Backoff: a.ModelBackoff, FirstTokenTimeout: a.FirstTokenTimeout,
		BreakerFailures: a.BreakerFailures, BreakerCooldown: a.BreakerCooldown, Tracer: s.tracer.Tracer("aibridge/llm"),
	}
	b := bot.New(bot.Config{
		Workers: a.Workers, AckWait: a.AckWait, MaxDeliver: a.MaxDeliver, PartialInterval: a.PartialInterval,
		BotName: a.BotName, Model: modelBase,
	}, bot.Deps{
		JS: s.js, Conversations: convKV, Tenants: store, Knowledge: library, Models: models, History: history,
		Fence: fence, Metrics: met, Log: s.log.Named("bot"), Getenv: s.getenv, Tracer: s.tracer.Tracer("aibridge/bot"),
		Audio: attachmentReader(s.js), STT: &stt.Client{HTTP: &http.Client{}}, Owners: owners,
	})
	as := assist.New(assist.Config{Workers: a.AssistWorkers, Timeout: a.AssistTimeout, Model: modelBase}, assist.Deps{
		NC: s.nc, Conversations: convKV, Tenants: store, Knowledge: library, Models: models, History: history,
		Metrics: met, Log: s.log.Named("assist"), Getenv: s.getenv, Tracer: s.tracer.Tracer("aibridge/assist"),
	})

	// Stopped in reverse: assist requests, then the bot's consumer, then the replies it
	// started are awaited.
	s.stack.Push("replies", func(ctx context.Context) error {
		if err := b.Wait(ctx); err != nil {
			return fmt.Errorf("replies still in flight: %w", err)
		}
		return nil
	})
	botRun := s.stack.Go(ctx, "bot", b.Run)
	assistRun := s.stack.Go(ctx, "assist", func(ctx context.Context) error { return as.Run(ctx, nil) })
	select {
	case <-b.Started():
	case <-botRun.Done():
		return botRun.Err()
	case <-assistRun.Done():
		return assistRun.Err()
	case <-ctx.Done():
		return nil
	}
	s.consuming.Open()
	s.log.Info("aibridge running")
	select {
	case <-ctx.Done():
		return nil
	case <-botRun.Done():
		return botRun.Err()
	case <-assistRun.Done():
		return assistRun.Err()
	}
}

// attachmentReader reads voice messages from the attachment store, refusing files of another
// tenant and files too large to transcribe.
func attachmentReader(js jetstream.JetStream) func(ctx context.Context, tenant, id string) ([]byte, string, error) {
	return func(ctx context.Context, tenant, id string) ([]byte, string, error) {
		if !subjects.ValidToken(id) {
			return nil, "", fmt.Errorf("attachment %q: not an id", id)
		}
		obj, err := js.ObjectStore(ctx, subjects.ObjectAttachments)
		if err != nil {
			return nil, "", fmt.Errorf("attachment store: %w", err)
		}
		info, err := obj.GetInfo(ctx, id)
		if err != nil {
			return nil, "", fmt.Errorf("attachment %s: %w", id, err)
		}
		if info.Headers.Get(subjects.AttachmentTenant) != tenant {
			return nil, "", fmt.Errorf("attachment %s: not tenant %s's", id, tenant)
		}
		if info.Size > stt.MaxAudioBytes {
			return nil, "", fmt.Errorf("attachment %s: %w", id, stt.ErrTooLarge)
		}
		data, err := obj.GetBytes(ctx, id)
		if err != nil {
			return nil, "", fmt.Errorf("attachment %s: %w", id, err)
		}
		return data, info.Headers.Get(subjects.AttachmentType), nil
	}
}

// Run runs the AI bridge until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
