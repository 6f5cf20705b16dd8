// Package app is the gateway's composition root: configuration, and the wiring of NATS, the
// tenants view, the shared subscriptions, sessions, the public HTTP server and the ops server.
package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/auth"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/server"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/sso"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/gateway/web"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Settings are the gateway's own settings (key "gateway", env FRONTDESK_GATEWAY_*).
type Settings struct {
	// Listen is the public address (default ":8080").
	Listen string `mapstructure:"listen"`
	// Secret was the one HS256 secret of every tenant. It is refused: set SigningKeys (and, to
	// keep old tokens working for one release, LegacySharedSecret).
	Secret string `mapstructure:"secret" secret:"true"`
	// Issuer is the "iss" of the tokens the gateway signs (default "frontdesk").
	Issuer string `mapstructure:"issuer"`
	// SigningKeys is the gateway's own key set, a JSON Web Key Set of private ES256 or EdDSA keys
	// with kids; the first signs, all verify (rotation: put a new key first, drop old ones after
	// 12 hours). Required unless SigningKeysFile is set.
	SigningKeys string `mapstructure:"signing_keys" secret:"true"`
	// SigningKeysFile is a file holding the key set, re-read when it changes (a mounted Secret).
	SigningKeysFile string `mapstructure:"signing_keys_file"`
	// KeysReload is how often SigningKeysFile is checked for a change (default 10s).
	KeysReload time.Duration `mapstructure:"keys_reload"`
	// VerifiedTokens bounds the cache of verified tokens (auth.DefaultCacheEntries when 0; -1
	// turns it off, to measure what it saves).
	VerifiedTokens int `mapstructure:"verified_tokens"`
	// DevSecret is a local development HS256 secret (at least 32 bytes): tokens it signs are
	// believed for the tenants in DevTenants. For `make run` and load tests, never production.
	DevSecret string `mapstructure:"dev_secret" secret:"true"`
	// DevTenants are the tenants that accept DevSecret tokens ("*": every tenant, for tests).
	DevTenants []string `mapstructure:"dev_tenants"`
	// LegacySharedSecret keeps accepting the HS256 tokens of the one shared secret, for every
	// tenant, with their claims believed: the behaviour before tenant-bound keys, for one release
	// while tenants move to customer issuers and SSO. A warning is logged at start.
	LegacySharedSecret string `mapstructure:"legacy_shared_secret" secret:"true"`
	// PublicURL is the gateway's external base URL (e.g. https://chat.example.com), used for the
	// sign-in redirect; default: the request's own scheme and host.
	PublicURL string `mapstructure:"public_url"`
	// SSOSecretsDir holds the files tenants' staff_sso.client_secret_file name.
	SSOSecretsDir string `mapstructure:"sso_secrets_dir"`
	// SessionTTL is how long a console sign-in lasts (default 12h, at most 12h).
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// StaffTokenTTL is the lifetime of the console tokens a session hands out (default 15m).
	StaffTokenTTL time.Duration `mapstructure:"staff_token_ttl"`
	// ID names this instance in presence heartbeats (default: host name and a random suffix).
	ID string `mapstructure:"id"`
	// VisitorTTL is the lifetime of anonymous visitor tokens (default 24h).
	VisitorTTL time.Duration `mapstructure:"visitor_ttl"`
	// PingInterval is how often idle sockets are pinged (default 10s).
	PingInterval time.Duration `mapstructure:"ping_interval"`
	// DeadTimeout closes a connection silent for this long (default 30s).
	DeadTimeout time.Duration `mapstructure:"dead_timeout"`
	// PresenceTTL is the ttl of session heartbeats, sent every third of it (default 30s).
	PresenceTTL time.Duration `mapstructure:"presence_ttl"`
	// WriteTimeout bounds one socket write (default 10s).
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// RequestTimeout bounds NATS requests and publishes (default 5s).
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// QueueFrames bounds a connection's outbound queue; over it the client is dropped (default 512).
	QueueFrames int `mapstructure:"queue_frames"`
	// QueueBytes bounds a connection's outbound queue in bytes (default 1 MiB).
	QueueBytes int `mapstructure:"queue_bytes"`
	// AbuseLimit is the number of consecutive rate-limited frames before close 1008 (default 10).
	AbuseLimit int `mapstructure:"abuse_limit"`
	// Workers is the number of delivery workers for shared subscriptions (default 4).
	Workers int `mapstructure:"workers"`
	// VisitorRate is how many anonymous visitor tokens (POST /v1/visitors) one client address
	// may get per minute on this gateway, after VisitorBurst at once (default 60); an IPv6
	// client counts by its /64. Over it: 429 with Retry-After.
	VisitorRate float64 `mapstructure:"visitor_rate"`
	// VisitorBurst is how many visitor tokens a client may get at once (default 30).
	VisitorBurst int `mapstructure:"visitor_burst"`
	// TrustedProxies are the addresses or CIDR prefixes of the proxies and load balancers whose
	// X-Forwarded-For tells the client's address (default none: the peer's address is the
	// client's, so behind an unlisted proxy all visitors share one rate limit).
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// HTTPTimeout bounds reading and writing a request other than a WebSocket upgrade, the SSE
	// stream and attachments (default 30s); IdleTimeout closes idle keep-alive connections
	// (default 1m).
	HTTPTimeout time.Duration `mapstructure:"http_timeout"`
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// UploadTimeout bounds an attachment upload's body and a download (default 2m);
	// UploadsPerUser and UploadsPerTenant bound uploads in progress on this gateway (defaults
	// 2 and 32; over them 429).
	UploadTimeout    time.Duration `mapstructure:"upload_timeout"`
	UploadsPerUser   int           `mapstructure:"uploads_per_user"`
	UploadsPerTenant int           `mapstructure:"uploads_per_tenant"`
	// RefusalDelay holds the answer to an upload refused for the client's fault (4xx: not a
	// participant, too many in progress, bad token...) and to a POST /v1/sse without a session
	// whose last frame was rate-limited this long, so a flood gets at most its connections per
	// delay (default 1s; negative: answered at once).
	RefusalDelay time.Duration `mapstructure:"refusal_delay"`
	// MaxConnections bounds open connections (default 100000), MaxConnectionsPerAddress those
	// of one client address, trusted proxies excepted (default 10000); over them: 503 and close.
	MaxConnections           int `mapstructure:"max_connections"`
	MaxConnectionsPerAddress int `mapstructure:"max_connections_per_address"`
	// MaxHandshakes bounds the sessions opening at once on this gateway (WebSocket upgrades and
	// SSE streams: token check, handshake, session start), so a burst of them queues outside the
	// CPU the open sessions' deliveries need (default 0: GOMAXPROCS, at least 2; negative: no bound).
	// One that waits HandshakeWait (default 1s) for a slot is refused (close 1013, SSE 503).
	MaxHandshakes int           `mapstructure:"max_handshakes"`
	HandshakeWait time.Duration `mapstructure:"handshake_wait"`
	// ReplyBytesPerSecond is each user's budget for sync replays and history pages, in encoded
	// bytes per second on this gateway (default 4 MiB).
	ReplyBytesPerSecond int `mapstructure:"reply_bytes_per_second"`
	// MaxPublishes bounds the JetStream publishes in flight on this gateway (default 1024); a
	// frame that waits PublishWait (default 100ms) without a slot is refused with `overloaded`.
	MaxPublishes int           `mapstructure:"max_publishes"`
	PublishWait  time.Duration `mapstructure:"publish_wait"`
	// ShedLatency and ShedPublishLatency: while the gateway is sent ShedMinSends messages or
	// more a 100 ms tick (refused ones count; default 100), it admits new messages at a rate cut
	// when, two ticks in a row, the Go scheduler's p99 latency is above ShedLatency (default
	// 20ms) or the JetStream publishes' p99 above ShedPublishLatency (default 50ms), and raised
	// step by step otherwise; the rest are refused with `overloaded`. A ShedLatency of 0 turns admission off,
	// a ShedPublishLatency of 0 ignores the publishes.
	ShedLatency        time.Duration `mapstructure:"shed_latency"`
	ShedPublishLatency time.Duration `mapstructure:"shed_publish_latency"`
	ShedMinSends       int           `mapstructure:"shed_min_sends"`
	// ContactSeenEvery is how often a customer reconnecting with the same token details from
	// the same page is recorded on their contact (default 10m; negative: every connection).
	ContactSeenEvery time.Duration `mapstructure:"contact_seen_every"`
}

// Config is the gateway's configuration.
type Config struct {
	config.Base `mapstructure:",squash"`
	// Gateway holds the gateway's own settings.
	Gateway Settings `mapstructure:"gateway"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	b := config.DefaultBase()
	b.NATS.Name = "gateway"
	d := session.DefaultConfig()
	sd := server.DefaultConfig()
	return Config{Base: b, Gateway: Settings{
		Listen: ":8080", Issuer: "frontdesk", KeysReload: 10 * time.Second, SessionTTL: 12 * time.Hour, StaffTokenTTL: 15 * time.Minute, VisitorTTL: sd.VisitorTTL, PingInterval: d.PingInterval, DeadTimeout: d.DeadTimeout,
		PresenceTTL: d.PresenceTTL, WriteTimeout: d.WriteTimeout, RequestTimeout: d.RequestTimeout,
		QueueFrames: d.QueueFrames, QueueBytes: d.QueueBytes, AbuseLimit: d.AbuseLimit, Workers: 4,
		VisitorRate: sd.VisitorRate, VisitorBurst: sd.VisitorBurst,
		HTTPTimeout: sd.HTTPTimeout, IdleTimeout: sd.IdleTimeout, UploadTimeout: sd.UploadTimeout,
		UploadsPerUser: sd.UploadsPerUser, UploadsPerTenant: sd.UploadsPerTenant, RefusalDelay: sd.RefusalDelay,
		MaxConnections: sd.MaxConnections, MaxConnectionsPerAddress: sd.MaxConnectionsPerAddress, HandshakeWait: sd.HandshakeWait,
		MaxPublishes: d.MaxPublishes, PublishWait: d.PublishWait, ContactSeenEvery: session.DefaultContactSeenEvery,
		ShedLatency: d.ShedLatency, ShedPublishLatency: d.ShedPublishLatency, ShedMinSends: d.ShedMinSends,
	}}
}

// Validate checks the configuration; errors name the key.
func (c Config) Validate() error {
	g := c.Gateway
	var errs []error
	errs = append(errs, c.Base.Validate(), config.Required("gateway.listen", g.Listen))
	if g.Secret != "" {
		errs = append(errs, &config.FieldError{Key: "gateway.secret", Msg: "the shared secret is gone: set gateway.signing_keys " +
			"(or signing_keys_file), and gateway.legacy_shared_secret to keep its tokens working for one release"})
	}
	if g.SigningKeys == "" && g.SigningKeysFile == "" {
		errs = append(errs, &config.FieldError{Key: "gateway.signing_keys", Msg: "required (or gateway.signing_keys_file)"})
	} else if _, _, err := auth.LoadKeys(g.SigningKeys, g.SigningKeysFile); err != nil {
		errs = append(errs, &config.FieldError{Key: "gateway.signing_keys", Msg: err.Error()})
	}
	for _, sec := range []struct{ key, v string }{{"gateway.dev_secret", g.DevSecret}, {"gateway.legacy_shared_secret", g.LegacySharedSecret}} {
		if sec.v != "" && len(sec.v) < token.MinSecretBytes {
			errs = append(errs, &config.FieldError{Key: sec.key, Msg: fmt.Sprintf("must be at least %d bytes", token.MinSecretBytes)})
		}
	}
	if g.DevSecret != "" && len(g.DevTenants) == 0 {
		errs = append(errs, &config.FieldError{Key: "gateway.dev_tenants", Msg: "required with gateway.dev_secret"})
	}
	if g.SessionTTL > auth.MaxSessionLifetime {
		errs = append(errs, &config.FieldError{Key: "gateway.session_ttl", Msg: fmt.Sprintf("at most %s", auth.MaxSessionLifetime)})
	}
	if g.StaffTokenTTL > auth.MaxStaffLifetime {
		errs = append(errs, &config.FieldError{Key: "gateway.staff_token_ttl", Msg: fmt.Sprintf("at most %s", auth.MaxStaffLifetime)})
	}
	if g.VisitorTTL > auth.MaxVisitorLifetime {
		errs = append(errs, &config.FieldError{Key: "gateway.visitor_ttl", Msg: fmt.Sprintf("at most %s", auth.MaxVisitorLifetime)})
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"gateway.visitor_ttl", g.VisitorTTL}, {"gateway.ping_interval", g.PingInterval}, {"gateway.dead_timeout", g.DeadTimeout},
		{"gateway.presence_ttl", g.PresenceTTL}, {"gateway.write_timeout", g.WriteTimeout}, {"gateway.request_timeout", g.RequestTimeout},
		{"gateway.session_ttl", g.SessionTTL}, {"gateway.staff_token_ttl", g.StaffTokenTTL}, {"gateway.keys_reload", g.KeysReload},
		{"gateway.handshake_wait", g.HandshakeWait}} {
		errs = append(errs, config.PositiveDuration(d.key, d.v))
	}
	if g.DeadTimeout <= g.PingInterval {
		errs = append(errs, &config.FieldError{Key: "gateway.dead_timeout", Msg: "must be longer than gateway.ping_interval"})
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"gateway.queue_frames", g.QueueFrames}, {"gateway.queue_bytes", g.QueueBytes}, {"gateway.abuse_limit", g.AbuseLimit},
		{"gateway.workers", g.Workers}, {"gateway.visitor_burst", g.VisitorBurst}, {"gateway.max_publishes", g.MaxPublishes},
		{"gateway.publish_wait", int(g.PublishWait)}} {
		if n.v <= 0 {
			errs = append(errs, &config.FieldError{Key: n.key, Msg: "must be positive"})
		}
	}
	if g.ShedLatency < 0 || g.ShedPublishLatency < 0 || g.ShedMinSends < 0 {
		errs = append(errs, &config.FieldError{Key: "gateway.shed_latency", Msg: "shed_latency, shed_publish_latency and shed_min_sends must not be negative (0 turns admission off)"})
	}
	// NaN fails too.
	if !(g.VisitorRate > 0) || math.IsInf(g.VisitorRate, 0) {
		errs = append(errs, &config.FieldError{Key: "gateway.visitor_rate", Msg: "must be a positive number of tokens per minute"})
	}
	if _, err := server.ParseTrustedProxies(g.TrustedProxies); err != nil {
		errs = append(errs, &config.FieldError{Key: "gateway.trusted_proxies", Msg: err.Error()})
	}
	return errors.Join(errs...)
}

// Service is a running gateway.
type Service struct {
	cfg      Config
	log      *zap.Logger
	stack    *lifecycle.Stack
	nc       *nats.Conn
	js       jetstream.JetStream
	tracer   *tracing.Provider
	metrics  *metrics.Metrics
	sessions *session.Manager // set by Run once started
	ln       net.Listener     // bound by New
	conns    net.Listener     // ln under the connection limits, set by Run once started
	ops      *ops.Server
	proxies  []netip.Prefix
	ring     *auth.Ring
	keyData  []byte
	stopping atomic.Bool   // set when shutdown starts: consumers ending then are no errors
	started  *startup.Gate // opened when Run serves: /readyz fails before
}

// New connects to NATS (lazily: an outage at start shows in /readyz rather than failing the
// process), starts the ops server and binds the public listener, so that a bad key set or a
// port in use fail at once; Run waits for the topology and the tenant view, wires the sessions
// and serves. On error everything already started is stopped.
func New(ctx context.Context, cfg Config, log *zap.Logger) (_ *Service, err error) {
	// s is not the named result: a failing return sets that to nil before the cleanup below,
	// and the cleanup steps pushed on the stack use s.
	s := &Service{cfg: cfg, log: log, stack: lifecycle.NewStack(log)}
	defer func() {
		if err != nil {
			_ = s.stack.Shutdown(ctx, cfg.Shutdown.Timeout)
		}
	}()
	reg := ops.NewRegistry()
	s.metrics = metrics.New(reg)
	// The start-up policy of every service (startup): the ops server answers from the start
	// and /readyz says what is missing while the gateway waits for NATS, the topology and its
	// tenant view. A NATS outage degrades a started gateway without making it unready: it
	// shares the outage with every other gateway, so taking it out of the load balancer would
	// only cut the sockets it holds (they keep their pings, and sends are refused until NATS is
	// back). /readyz says "degraded" and names it. A gateway that never reached NATS is not
	// started. Tracing stops after the NATS drain: the last frames' spans are exported.
	base, err := startup.Begin(ctx, s.stack, cfg.Base, "gateway", log, reg, startup.Options{
		DegradableNATS: true, BeforeDrain: func() { s.stopping.Store(true) }})
	if err != nil {
		return nil, err
	}
	s.ops, s.nc, s.js, s.tracer = base.Ops, base.NC, base.JS, base.Tracer
	s.nc.SetErrorHandler(quietWhileStopping(s.nc.Opts.AsyncErrorCB, s.stopping.Load, log.Named("nats")))
	// A forced collection on the internal port lets the load generator measure memory per
	// connection as RSS after GC, the way BENCHMARKS.md reports it (only with ops.debug).
	s.ops.HandleDebug("POST /debug/gc", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	}))
	s.started = startup.NewGate(s.ops, "started", "starting: waiting for the streams and the tenant view")
	if err := s.ops.Start(ctx); err != nil {
		return nil, err
	}
	g := cfg.Gateway
	if s.proxies, err = server.ParseTrustedProxies(g.TrustedProxies); err != nil {
		return nil, fmt.Errorf("gateway.trusted_proxies: %w", err)
	}
	keys, keyData, err := auth.LoadKeys(g.SigningKeys, g.SigningKeysFile)
	if err != nil {
		return nil, err
	}
	s.ring, s.keyData = &auth.Ring{}, keyData
	s.ring.Store(keys)
	// Bound now, served once started: until then a connection waits in the backlog, and
	// /readyz keeps load balancers from sending any.
	// Without TCP keepalive: a WebSocket's pings and an SSE stream's heartbeats find a dead
	// peer (the janitor closes silent sessions) and the HTTP server's idle timeout ends an idle
	// connection, while the keepalive's four setsockopt calls per accepted connection were 2%
	// of the gateway's CPU at 1,000 new connections a second (BENCHMARKS.md, "Session 9").
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", g.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", g.Listen, err)
	}
	s.ln = ln
	// Closes the listener of a gateway stopped before it served (the HTTP server closes it
	// otherwise, and a second close is no error worth reporting).
	s.stack.Push("listener", func(context.Context) error {
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return s, nil
}

// Addr is the bound public address.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// OpsAddr is the bound ops address.
func (s *Service) OpsAddr() string { return s.ops.Addr() }

// Started is closed once Run serves (see startup.Gate).
func (s *Service) Started() <-chan struct{} { return s.started.Opened() }

// Sessions is the session manager (tests), nil until Started is closed.
func (s *Service) Sessions() *session.Manager {
	select {
	case <-s.started.Opened():
		return s.sessions
	default:
		return nil
	}
}

// Run waits for the topology and the tenant view, wires the sessions and serves until ctx is
// cancelled, then shuts down within cfg.Shutdown.Timeout.
func (s *Service) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.stopping.Store(true)
	s.ops.SetDraining()
	return errors.Join(err, s.stack.Shutdown(ctx, s.cfg.Shutdown.Timeout))
}

func (s *Service) run(ctx context.Context) error {
	serve, err := s.start(ctx)
	if err != nil {
		return lifecycle.IgnoreCanceled(ctx, err)
	}
	s.started.Open()
	s.log.Info("gateway listening", zap.String("addr", s.Addr()), zap.String("ops", s.OpsAddr()))
	select {
	case <-ctx.Done():
		return nil
	case <-serve.Done():
		return serve.Err()
	}
}

// start waits for the topology and the tenant view, wires the hub, the sessions and the HTTP
// server, each stop pushed on the stack, and serves.
func (s *Service) start(ctx context.Context) (*lifecycle.Task, error) {
	// The provisioner creates the topology (the gateway may not): wait for it.
	if err := startup.Topology(ctx, s.nc, s.js, s.cfg.NATS.Replicas, s.log, subjects.StreamMessages, subjects.StreamEvents,
		subjects.StreamCommands, subjects.StreamReads, subjects.BucketTenants, subjects.BucketConversations,
		subjects.BucketParticipants, subjects.BucketOpen, subjects.BucketQuotas, subjects.ObjectAttachments, subjects.StreamNotes); err != nil {
		return nil, err
	}
	// The watch outlives ctx so sessions keep their tenant view while they close.
	store, err := startup.Tenants(ctx, s.stack, s.js, s.cfg.Tenants.File, s.ops, s.log)
	if err != nil {
		return nil, err
	}
	log, tp, m := s.log, s.tracer, s.metrics
	h, err := hub.New(s.nc, log.Named("hub"), m, hub.Options{Workers: s.cfg.Gateway.Workers, Tracer: tp.Tracer("gateway/hub")})
	if err != nil {
		return nil, err
	}
	s.stack.Push("hub", func(context.Context) error { h.Close(); return nil })
	s.stack.Go(ctx, "hub watch", func(ctx context.Context) error { h.Watch(ctx, 250*time.Millisecond); return nil })
	g := s.cfg.Gateway
	id := g.ID
	if id == "" {
		host, _ := os.Hostname()
		id = host + "-" + session.NewID("")[:6]
	}
	sessions, err := session.New(ctx, session.Config{GatewayID: id, QueueFrames: g.QueueFrames, QueueBytes: g.QueueBytes,
		PingInterval: g.PingInterval, DeadTimeout: g.DeadTimeout, PresenceTTL: g.PresenceTTL, WriteTimeout: g.WriteTimeout,
		RequestTimeout: g.RequestTimeout, AbuseLimit: g.AbuseLimit, ReplyBytesPerSecond: g.ReplyBytesPerSecond,
		Tracer: tp.Tracer("gateway/session"), MaxPublishes: g.MaxPublishes, PublishWait: g.PublishWait,
		ContactSeenEvery: g.ContactSeenEvery, ShedLatency: g.ShedLatency,
		ShedPublishLatency: g.ShedPublishLatency, ShedMinSends: g.ShedMinSends},
		log.Named("session"), s.nc, h, store, m)
	if err != nil {
		return nil, err
	}
	s.sessions = sessions
	store.OnChange(sessions.TenantChanged)
	s.stack.Go(ctx, "janitor", sessions.Run)

	if g.SigningKeys == "" {
		s.stack.Go(ctx, "keys", func(ctx context.Context) error {
			auth.WatchKeyFile(ctx, g.SigningKeysFile, s.keyData, s.ring, g.KeysReload, log.Named("keys"))
			return nil
		})
	}
	if g.DevSecret != "" {
		log.Warn("development tokens accepted: gateway.dev_secret is set (never in production)", zap.Strings("tenants", g.DevTenants))
	}
	if g.LegacySharedSecret != "" {
		log.Warn("gateway.legacy_shared_secret is set: HS256 tokens of the shared secret are accepted for every tenant " +
			"with their claims believed; move tenants to customer_issuers and staff_sso, then remove it (next release refuses it)")
	}
	authn := auth.New(auth.Config{Issuer: g.Issuer, Keys: s.ring.Keys, DevSecret: []byte(g.DevSecret), DevTenants: g.DevTenants,
		LegacySecret: []byte(g.LegacySharedSecret), CacheEntries: g.VerifiedTokens}, log.Named("auth"))
	ssoh := sso.New(sso.Config{Auth: authn, Tenant: sessions.Tenant, PublicURL: g.PublicURL, SecretsDir: g.SSOSecretsDir,
		SessionTTL: g.SessionTTL, TokenTTL: g.StaffTokenTTL}, log.Named("sso"))
	srv := server.New(server.Config{Auth: authn, SSO: ssoh, VisitorTTL: g.VisitorTTL, VisitorRate: g.VisitorRate,
		VisitorBurst: g.VisitorBurst, TrustedProxies: s.proxies, HTTPTimeout: g.HTTPTimeout, IdleTimeout: g.IdleTimeout,
		UploadTimeout: g.UploadTimeout, UploadsPerUser: g.UploadsPerUser, UploadsPerTenant: g.UploadsPerTenant,
		RefusalDelay: g.RefusalDelay, MaxConnections: g.MaxConnections, MaxConnectionsPerAddress: g.MaxConnectionsPerAddress,
		MaxHandshakes: g.MaxHandshakes, HandshakeWait: g.HandshakeWait},
		log.Named("http"), sessions, m, web.Handler())
	httpSrv := srv.HTTPServer(log.Named("http"))
	s.conns = srv.Listener(s.ln)
	// Pushed before the sessions step, which shuts the server down: this one then waits for
	// Serve to return.
	serve := s.stack.Go(ctx, "serve", func(context.Context) error {
		if err := httpSrv.Serve(s.conns); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	// Reverse order at shutdown: sessions get 1012 (and refuse newcomers) while the HTTP
	// server closes the listener, then Serve's return is awaited, then the key watcher,
	// janitor, hub, tenant watcher, NATS drain and ops server stop.
	s.stack.Push("sessions", func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- httpSrv.Shutdown(ctx) }()
		err := sessions.Shutdown(ctx)
		return errors.Join(err, <-errc)
	})
	return serve, nil
}

// Run runs a gateway with cfg until ctx is cancelled.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
