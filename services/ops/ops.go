// Package ops serves a service's operational endpoints on its own port: /healthz (the process
// is alive), /readyz (it can do its job: every dependency check passes and it is not
// draining) and /metrics (Prometheus), and, only when enabled (EnableDebug), the debug
// endpoints under /debug/.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// DefaultCheckTimeout bounds each readiness check; checks run concurrently, so it also bounds
// /readyz. Set the readiness probe's timeoutSeconds above it (Kubernetes defaults to 1s).
const DefaultCheckTimeout = 2 * time.Second

// Status values of the /readyz body.
const (
	StatusReady    = "ready"
	StatusNotReady = "not ready"
	StatusDraining = "draining"
	// StatusDegraded: every check that decides readiness passes, but a degradable one
	// (AddDegradable) fails; /readyz answers 200 and names it.
	StatusDegraded = "degraded"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors. Each
// service builds one in run and passes it to whatever registers metrics; nothing uses the
// global default registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Server is the ops HTTP server. Configure it (AddCheck, Handle, SetCheckTimeout) before
// Start; AddCheck and SetDraining are also safe later.
type Server struct {
	addr string
	log  *zap.Logger
	reg  *prometheus.Registry
	mux  *http.ServeMux
	srv  *http.Server

	mu           sync.Mutex
	checks       []namedCheck
	checkTimeout time.Duration
	ln           net.Listener
	served       chan struct{} // closed when Serve returned; nil before Start

	draining atomic.Bool
	debug    bool
}

type namedCheck struct {
	name  string
	check func(context.Context) error
	// degradable: a failure is reported, but the service stays ready.
	degradable bool
}

// ReadyBody is the JSON body of /readyz.
type ReadyBody struct {
	// Status is StatusReady, StatusDegraded, StatusNotReady or StatusDraining.
	Status string `json:"status"`
	// Checks maps each check name to "ok" or its error.
	Checks map[string]string `json:"checks"`
}

// New returns a server for addr (":9090"; ":0" picks a free port, see Addr) serving metrics
// from reg (a fresh empty registry when nil).
func New(addr string, log *zap.Logger, reg *prometheus.Registry) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{addr: addr, log: log, reg: reg, mux: http.NewServeMux(), checkTimeout: DefaultCheckTimeout}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          zap.NewStdLog(log),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}))
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}
	return s
}

// AddCheck adds a readiness check. name appears in the /readyz body; check should honour its
// context, which carries the check timeout.
func (s *Server) AddCheck(name string, check func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name: name, check: check})
}

// AddPending adds a check that fails with reason until done is called: a part of the service
// that is not there yet (started, answering queries, consuming). Register it before Start, and
// call done only after the checks added later (a tenant view opened after Start) are in place:
// a check added while /readyz is polled otherwise lets the service be called ready too early.
// done may be called more than once.
func (s *Server) AddPending(name, reason string) (done func()) {
	var ok atomic.Bool
	s.AddCheck(name, func(context.Context) error {
		if !ok.Load() {
			return errors.New(reason)
		}
		return nil
	})
	return func() { ok.Store(true) }
}

// AddDegradable adds a check whose failure degrades the service without making it unready:
// /readyz still answers 200, with status "degraded" and the check's error, so a load
// balancer keeps sending traffic the service can partly serve (the gateway during a NATS
// outage: open sockets stay open and reconnect nowhere better, since every gateway shares the
// outage).
func (s *Server) AddDegradable(name string, check func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name: name, check: check, degradable: true})
}

// SetCheckTimeout changes the timeout of each readiness check (default DefaultCheckTimeout).
func (s *Server) SetCheckTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkTimeout = d
}

// Handle adds a handler on the ops port. Call it before Start.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// EnableDebug serves pprof (profiles, traces, the command line) under /debug/pprof/ and lets
// HandleDebug add endpoints. Call it before Start, only when the configuration asks for it
// (config.Ops.Debug): the endpoints are unauthenticated, reveal the command line and can
// stall the process, so a default deployment does not serve them.
func (s *Server) EnableDebug() {
	if s.debug {
		return
	}
	s.debug = true
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// HandleDebug adds a debug endpoint when debug endpoints are enabled (EnableDebug) and does
// nothing otherwise, so a service declares its debug endpoints unconditionally and the
// configuration alone decides. Call it before Start.
func (s *Server) HandleDebug(pattern string, h http.Handler) {
	if s.debug {
		s.mux.Handle(pattern, h)
	}
}

// Handler returns the server's handler, for tests that do not need a listener.
func (s *Server) Handler() http.Handler { return s.mux }

// SetDraining makes /readyz answer 503 from now on, so load balancers stop sending traffic
// while the service shuts down. /healthz keeps answering 200.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Start listens on the address and serves in the background until Shutdown. It returns once
// the listener is bound, so Addr is valid after it. When ctx names the service (WithService),
// the registry gets its BuildInfoMetric first.
func (s *Server) Start(ctx context.Context) error {
	if name := ServiceFrom(ctx); name != "" {
		if err := s.reg.Register(NewBuildInfo(name)); err != nil {
			return fmt.Errorf("ops: register %s: %w", BuildInfoMetric, err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("ops listen %s: %w", s.addr, err)
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.ln = ln
	s.served = served
	s.mu.Unlock()
	s.log.Info("ops server listening", zap.String("addr", ln.Addr().String()))
	go func() {
		defer close(served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops server stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr returns the bound address after Start ("127.0.0.1:41234"), or the configured one
// before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Shutdown stops the server, waiting for in-flight requests until ctx ends, and for the
// serving goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.mu.Lock()
	served := s.served
	s.mu.Unlock()
	if served != nil {
		<-served // Serve returns as soon as Shutdown closed the listener
	}
	if err != nil {
		return fmt.Errorf("ops shutdown: %w", err)
	}
	return nil
}

// Check runs every readiness check concurrently, each under the check timeout, and reports
// the result as /readyz does. ready is false when draining or when any check failed.
func (s *Server) Check(ctx context.Context) (body ReadyBody, ready bool) {
	s.mu.Lock()
	checks := append([]namedCheck(nil), s.checks...)
	timeout := s.checkTimeout
	s.mu.Unlock()

	body = ReadyBody{Status: StatusReady, Checks: make(map[string]string, len(checks))}
	if s.draining.Load() {
		// Dependencies do not matter any more: traffic must go elsewhere.
		body.Status = StatusDraining
		return body, false
	}
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			results[i] = runCheck(cctx, c.check)
		})
	}
	wg.Wait()
	ready = true
	degraded := false
	for i, c := range checks {
		if results[i] != nil {
			if c.degradable {
				degraded = true
			} else {
				ready = false
			}
			body.Checks[c.name] = results[i].Error()
			continue
		}
		body.Checks[c.name] = "ok"
	}
	switch {
	case !ready:
		body.Status = StatusNotReady
	case degraded:
		body.Status = StatusDegraded
	}
	return body, ready
}

// runCheck turns a panicking check into a failed one: /readyz must keep answering.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check panicked: %v", r)
		}
	}()
	return check(ctx)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	body, ready := s.Check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		s.log.Debug("write readyz", zap.Error(err))
	}
}
