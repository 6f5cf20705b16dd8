// Package server is the gateway's public HTTP surface: the WebSocket endpoint, the SSE
// fallback, anonymous visitor tokens and attachments. Authentication and origin checks happen
// here, before any upgrade; the protocol itself is the session package's.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/auth"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/sso"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Config configures the HTTP surface. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Auth verifies tokens and signs the gateway's own.
	Auth *auth.Authenticator
	// SSO, when set, serves staff sign-in and console sessions.
	SSO *sso.Handler
	// VisitorTTL is the lifetime of anonymous visitor tokens.
	VisitorTTL time.Duration
	// VisitorRate is how many visitor tokens one client address may get per minute, after
	// VisitorBurst at once. An IPv6 client counts by its /64. The limit is per gateway.
	VisitorRate float64
	// VisitorBurst is the token bucket's size for visitor tokens.
	VisitorBurst int
	// VisitorClients bounds the client addresses whose buckets are remembered.
	VisitorClients int
	// TrustedProxies are the proxies whose X-Forwarded-For is believed when telling a client's
	// address. None by default: the peer's address is the client's, and behind a proxy or load
	// balancer every client then shares the proxy's bucket.
	TrustedProxies []netip.Prefix
	// UploadsPerUser and UploadsPerTenant bound attachment uploads in progress on this gateway;
	// past them an upload is refused with 429.
	UploadsPerUser   int
	UploadsPerTenant int
	// UploadTimeout bounds the reading of one upload's body, and the writing of a download.
	UploadTimeout time.Duration
	// RefusalDelay holds, this long, the answer to an upload refused for the client's fault
	// (4xx) and to a POST /v1/sse without a session whose last frame was refused by a rate limit
	// (0: 1s; negative: not at all). Each such request costs the gateway a token check and
	// more (a refused upload also its connection: the body is never read, so the connection
	// cannot be kept); a flooding client waits on its answers instead, parked at no CPU, so it
	// gets at most its connections per delay. Well-behaved clients are not refused.
	RefusalDelay time.Duration
	// HTTPTimeout bounds reading and writing every request but WebSocket upgrades (hijacked,
	// then under the session's ping and write timeouts), the SSE stream (under per-write
	// deadlines) and attachments (UploadTimeout): a stalled body or reader is cut off.
	HTTPTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// MaxConnections bounds the open connections of the listener (100,000 by default, about
	// 2.6 GB of idle sessions); MaxConnectionsPerAddress those of one client address (10,000:
	// above a pod's share behind a proxy that is not listed in TrustedProxies, whose clients
	// all come from its address; listed proxies are excepted). Over them: 503 and close.
	MaxConnections           int
	MaxConnectionsPerAddress int
	// MaxHandshakes bounds the sessions opening at once (WebSocket upgrades and SSE streams:
	// token check, handshake, session start), 0 for GOMAXPROCS (at least 2), negative for no bound;
	// HandshakeWait is how long an opening waits for a slot before it is refused with 503 and
	// Retry-After (handshakes.go).
	MaxHandshakes int
	HandshakeWait time.Duration
}

// DefaultConfig returns the defaults (Secret aside).
func DefaultConfig() Config {
	return Config{VisitorTTL: 24 * time.Hour, VisitorRate: 60, VisitorBurst: 30, VisitorClients: 1 << 16,
		UploadsPerUser: 2, UploadsPerTenant: 32, UploadTimeout: 2 * time.Minute, RefusalDelay: time.Second, HTTPTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, MaxConnections: 100_000, MaxConnectionsPerAddress: 10_000, HandshakeWait: time.Second}
}

// Server serves the public endpoints.
type Server struct {
	cfg      Config
	log      *zap.Logger
	sessions *session.Manager
	visitors *visitorLimiter
	uploads  *uploadSlots
	reports  reportSlots
	// handshakes bounds the sessions opening at once (nil: no bound).
	handshakes *handshakeGate
	metrics    *metrics.Metrics
	mux        *http.ServeMux
}

// New creates the server; Handler returns its routes. extra, when not nil, serves everything
// else (the widget and agent console).
func New(cfg Config, log *zap.Logger, sessions *session.Manager, m *metrics.Metrics, extra http.Handler) *Server {
	d := DefaultConfig()
	if cfg.VisitorTTL <= 0 {
		cfg.VisitorTTL = d.VisitorTTL
	}
	if cfg.VisitorRate <= 0 {
		cfg.VisitorRate = d.VisitorRate
	}
	if cfg.VisitorBurst <= 0 {
		cfg.VisitorBurst = d.VisitorBurst
	}
	if cfg.VisitorClients <= 0 {
		cfg.VisitorClients = d.VisitorClients
	}
	if cfg.UploadsPerUser <= 0 {
		cfg.UploadsPerUser = d.UploadsPerUser
	}
	if cfg.UploadsPerTenant <= 0 {
		cfg.UploadsPerTenant = d.UploadsPerTenant
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = d.UploadTimeout
	}
	if cfg.RefusalDelay == 0 {
		cfg.RefusalDelay = d.RefusalDelay
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = d.HTTPTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = d.MaxConnections
	}
	if cfg.MaxConnectionsPerAddress <= 0 {
		cfg.MaxConnectionsPerAddress = d.MaxConnectionsPerAddress
	}
	if cfg.HandshakeWait <= 0 {
		cfg.HandshakeWait = d.HandshakeWait
	}
	s := &Server{cfg: cfg, log: log, sessions: sessions, metrics: m,
		visitors: newVisitorLimiter(cfg.VisitorRate, cfg.VisitorBurst, cfg.VisitorClients), mux: http.NewServeMux(),
		uploads: newUploadSlots(cfg.UploadsPerUser, cfg.UploadsPerTenant), handshakes: newHandshakeGate(cfg.MaxHandshakes, cfg.HandshakeWait)}
	s.mux.HandleFunc("GET /v1/ws", s.handleWS)
	s.mux.HandleFunc("POST /v1/visitors", s.handleVisitors)
	s.mux.HandleFunc("GET /v1/sse", s.handleSSE)
	s.mux.HandleFunc("POST /v1/sse", s.handleSSEPost)
	s.mux.HandleFunc("POST /v1/attachments", s.handleUpload)
	s.mux.HandleFunc("GET /v1/attachments/{id}", s.handleDownload)
	s.mux.HandleFunc("GET /v1/reports", s.handleReports)
	s.mux.HandleFunc("POST /v1/erase", s.handleErase)
	s.mux.HandleFunc("OPTIONS /v1/", s.handlePreflight)
	if cfg.SSO != nil {
		cfg.SSO.Register(s.mux)
	}
	if extra != nil {
		s.mux.Handle("/", extra)
	}
	return s
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler { return s.mux }

// HTTPServer returns an http.Server for the routes with the timeouts of the configuration.
func (s *Server) HTTPServer(log *zap.Logger) *http.Server {
	return &http.Server{Handler: s.mux, ReadHeaderTimeout: min(10*time.Second, s.cfg.HTTPTimeout),
		ReadTimeout: s.cfg.HTTPTimeout, WriteTimeout: s.cfg.HTTPTimeout, IdleTimeout: s.cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10, ErrorLog: zap.NewStdLog(log)}
}

// Listener wraps ln with the configured connection caps.
func (s *Server) Listener(ln net.Listener) *ConnLimiter {
	return LimitConns(ln, s.cfg.MaxConnections, s.cfg.MaxConnectionsPerAddress, s.cfg.TrustedProxies, func(reason string) {
		s.metrics.AuthFailures.WithLabelValues("connections_" + reason).Inc()
	})
}

// authError is an HTTP refusal with its metric reason and, for the client, what went wrong.
type authError struct {
	status int
	reason string
	detail string
}

func (e *authError) Error() string { return e.reason }

// TenantHeader names the tenant a request is for, like the "tenant" query parameter. A token
// from a tenant's own issuer needs one of them; the gateway's tokens name their tenant.
const TenantHeader = "X-Frontdesk-Tenant"

// authenticate checks the request's token for its tenant, and the Origin.
func (s *Server) authenticate(r *http.Request) (*token.Claims, *fd.Tenant, error) {
	tok := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	} else {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return nil, nil, &authError{status: http.StatusUnauthorized, reason: "no_token"}
	}
	hint := r.Header.Get(TenantHeader)
	if hint == "" {
		hint = r.URL.Query().Get("tenant")
	}
	c, t, err := s.cfg.Auth.Verify(r.Context(), tok, hint, s.sessions.Tenant)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) {
			return nil, nil, &authError{status: ae.Status, reason: ae.Reason, detail: ae.Detail}
		}
		return nil, nil, err
	}
	if !OriginAllowed(r, t.GetAllowedOrigins()) {
		return nil, nil, &authError{status: http.StatusForbidden, reason: "origin"}
	}
	return c, t, nil
}

// supervisor authenticates a supervisors' endpoint (CORS headers first, as every endpoint): it
// returns the caller's claims, or answers the refusal (forbidden, why) itself and returns false.
func (s *Server) supervisor(w http.ResponseWriter, r *http.Request, forbidden string) (*token.Claims, bool) {
	cors(w, r)
	c, _, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return nil, false
	}
	if c.Role != frames.RoleSupervisor {
		http.Error(w, forbidden, http.StatusForbidden)
		return nil, false
	}
	return c, true
}

func (s *Server) refuse(w http.ResponseWriter, err error) {
	var ae *authError
	if errors.As(err, &ae) {
		s.metrics.AuthFailures.WithLabelValues(ae.reason).Inc()
		msg := http.StatusText(ae.status) + ": " + ae.reason
		if ae.detail != "" {
			msg += " (" + ae.detail + ")"
		}
		http.Error(w, msg, ae.status)
		return
	}
	s.log.Warn("request failed", zap.Error(err))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// OriginAllowed reports whether the request's Origin matches one of patterns, as
// websocket.AcceptOptions.OriginPatterns does: a pattern without "://" matches the host
// (path.Match syntax, e.g. "*.acme.com"), one with it matches scheme://host. Requests without
// Origin (not from a browser) and same-origin requests are allowed.
func OriginAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// cors allows a permitted cross-origin browser to read the response.
func cors(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Add("Vary", "Origin")
	}
}

func (s *Server) handlePreflight(w http.ResponseWriter, r *http.Request) {
	// Preflights carry no token, so they cannot be checked per tenant; the real request is.
	cors(w, r)
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+TenantHeader)
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !s.enterHandshake(w, r, true) {
		return
	}
	// The slot is held until the session has started (its welcome written) or failed to.
	defer s.handshakes.leave()
	c, t, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	if s.sessions.Draining() {
		http.Error(w, "gateway restarting", http.StatusServiceUnavailable)
		return
	}
	lim := session.TenantLimits(t)
	if s.sessions.UserSessions(c.Tenant, c.Subject) >= lim.MaxConnsPerUser {
		s.metrics.AuthFailures.WithLabelValues("too_many_connections").Inc()
		http.Error(w, "too many connections", http.StatusTooManyRequests)
		return
	}
	mode := websocket.CompressionDisabled
	if t.GetCompression() {
		mode = websocket.CompressionContextTakeover
	}
	tr := &wsTransport{}
	hj := &hijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		Subprotocols:    []string{frames.SubprotocolJSON, frames.SubprotocolProto},
		OriginPatterns:  t.GetAllowedOrigins(),
		CompressionMode: mode,
	})
	if err != nil {
		return // Accept wrote the response
	}
	conn.SetReadLimit(int64(lim.MaxFrameBytes))
	tr.c, tr.raw = conn, hj.conn
	tr.binary = conn.Subprotocol() == frames.SubprotocolProto
	tr.deltas = r.URL.Query().Get(frames.QueryPartials) == frames.PartialsDelta
	sess, err := s.sessions.Open(c, t, tr)
	if err == nil {
		sess.SetPage(r.URL.Query().Get(frames.QueryPage))
	}
	if err != nil {
		code := websocket.StatusTryAgainLater
		if errors.Is(err, session.ErrDraining) {
			code = websocket.StatusServiceRestart
		}
		_ = conn.Close(code, err.Error())
		runtime.SetFinalizer(conn, nil)
		return
	}
	tr.sess = sess
	// The session starts on this goroutine, whose stack net/http already grew while reading
	// the request: started on the connection's own goroutine, the start's deep calls (NATS,
	// protobuf, JSON) grew a fresh stack by copying it, for every upgrade.
	if err := sess.Start(context.Background()); err != nil {
		s.log.Warn("session start", zap.Error(err))
		_ = conn.Close(websocket.StatusInternalError, "internal error")
		sess.Finish()
		runtime.SetFinalizer(conn, nil)
		return
	}
	// The connection is served on a goroutine of its own so this handler returns: net/http keeps
	// the request (headers and all) alive for as long as a handler runs, a few KB per idle
	// socket.
	go s.serveWS(conn, sess, tr)
}

func (s *Server) serveWS(conn *websocket.Conn, sess *session.Session, tr *wsTransport) {
	// coder/websocket sets a finalizer on Conn, which its internal back-pointers (msgReader.c,
	// mu.c, ...) make part of a cycle: Go never collects a cycle holding a finalizer, so every
	// connection's buffers (about 19 KB) would leak. We always close the connection ourselves, so
	// the finalizer is dropped and the Conn becomes ordinary garbage.
	defer runtime.SetFinalizer(conn, nil)
	defer sess.Finish()
	ctx := context.Background()
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			// The peer is gone or broke the protocol: release the connection now rather than
			// when the janitor finds it silent (it counted against the connection caps until
			// then: an address whose clients dropped their sockets was refused). A close this
			// side started finishes its own handshake and closes the connection itself.
			if !tr.closing.Load() {
				_ = conn.CloseNow()
			}
			return
		}
		sess.Handle(ctx, data)
	}
}

// wsTransport adapts a WebSocket to session.Transport.
type wsTransport struct {
	c       *websocket.Conn
	raw     *corkConn // the socket under c
	sess    *session.Session
	binary  bool
	deltas  bool
	once    sync.Once
	closing atomic.Bool // a Close with a code is under way
}

func (t *wsTransport) Name() string { return "ws" }

// Deltas implements session.DeltaTransport.
func (t *wsTransport) Deltas() bool { return t.deltas }
func (t *wsTransport) Binary() bool { return t.binary }

func (t *wsTransport) Write(ctx context.Context, b []byte) error {
	typ := websocket.MessageText
	if t.binary {
		typ = websocket.MessageBinary
	}
	return t.c.Write(ctx, typ, b)
}

// WriteBatch writes frames with one system call (session.BatchWriter): coder/websocket frames
// each message into the corked connection, which writes them all at the end. ctx's deadline
// bounds the socket writes.
func (t *wsTransport) WriteBatch(ctx context.Context, frames [][]byte) error {
	typ := websocket.MessageText
	if t.binary {
		typ = websocket.MessageBinary
	}
	deadline, _ := ctx.Deadline()
	t.raw.cork(deadline)
	var err error
	for _, b := range frames {
		if err = t.c.Write(ctx, typ, b); err != nil {
			break
		}
	}
	if uerr := t.raw.uncork(); err == nil {
		err = uerr
	}
	return err
}

func (t *wsTransport) Close(code int, reason string) {
	t.once.Do(func() {
		t.closing.Store(true)
		go t.c.Close(websocket.StatusCode(code), reason)
	})
}

func (t *wsTransport) Abort() { t.once.Do(func() {}); _ = t.c.CloseNow() }

func (t *wsTransport) Ping(ctx context.Context) error { return t.c.Ping(ctx) }
