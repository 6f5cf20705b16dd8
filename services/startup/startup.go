// Package startup is the start-up every service shares, on its lifecycle.Stack: the ops
// server, tracing and the NATS connection (Begin), and the tenant view (Tenants). A service's
// composition root calls them and keeps only what is its own: its topology, its checks, its
// parts.
//
// The policy, the same for every service:
//   - New wires without waiting: Begin, the service's own readiness gate (NewGate) and
//     checks, Ops.Start, and whatever fails fast on a bad configuration (a listener's port).
//     Run does every wait under its ctx (Topology, Tenants, the parts that need them), opens
//     the gate, then works until ctx ends; a ctx ending during the waits is a shutdown, not
//     an error.
//   - The ops server answers from the start; /readyz says what is missing while the service
//     waits. Begin does not start it: the service registers every check that guards its
//     readiness first (a check added while /readyz is polled lets the service be called ready
//     too early), then calls Ops.Start.
//   - NATS is connected lazily and retried forever (natsconn.Connect); the streams are awaited,
//     never created (streams.Await).
//   - Tenants retries what may heal (NATS away, the bucket not there yet, a racing writer) and
//     fails at once on what cannot: a tenants file that does not load (tenants.ErrFile) is a
//     configuration error.
package startup

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Options are a service's deliberate differences from the common start.
type Options struct {
	// DegradableNATS registers the "nats" check with ops.AddDegradable: a NATS outage reports
	// "degraded" without making the service unready (the gateway, whose sockets an unready
	// state would cut). Otherwise it is an ordinary check.
	DegradableNATS bool
	// BeforeDrain, if set, runs when shutdown reaches the NATS step, before the drain (the
	// gateway quiets the errors of consumers ending then).
	BeforeDrain func()
}

// Base is what Begin started: each part's stop is pushed on the stack.
type Base struct {
	// Ops is the ops server, not started yet: add the service's checks, then Start it.
	Ops *ops.Server
	// Tracer is the service's tracing provider.
	Tracer *tracing.Provider
	// NC is the NATS connection; it may not be connected yet (see natsconn.WaitConnected).
	NC *nats.Conn
	// JS is JetStream on NC.
	JS jetstream.JetStream
}

// Begin creates the ops server (debug endpoints when cfg.Ops.Debug) with the "nats" check,
// the tracing provider named service, and the NATS connection, and pushes their stops on
// stack so that they stop in this order: the NATS drain, tracing (the spans of the last work
// are exported), the ops server (/readyz says "draining" to the end). On error, what was
// pushed is the caller's to shut down, as for every other step.
func Begin(ctx context.Context, stack *lifecycle.Stack, cfg config.Base, service string, log *zap.Logger,
	reg *prometheus.Registry, opts Options) (*Base, error) {
	b := &Base{Ops: ops.New(cfg.Ops.Addr, log.Named("ops"), reg)}
	if cfg.Ops.Debug {
		b.Ops.EnableDebug()
	}
	stack.Push("ops", b.Ops.Shutdown)
	tp, err := tracing.New(ctx, cfg.Tracing, service, log.Named("tracing"))
	if err != nil {
		return nil, err
	}
	b.Tracer = tp
	stack.Push("tracing", tp.Shutdown)
	if b.NC, err = natsconn.Connect(ctx, cfg.NATS, log.Named("nats"), reg); err != nil {
		return nil, err
	}
	nc := b.NC
	// The chassis drain flushes the last acks and replies, waits for the close under the
	// shutdown deadline and keeps natsconn's own closed handler (and its logging).
	stack.Push("nats", func(ctx context.Context) error {
		if opts.BeforeDrain != nil {
			opts.BeforeDrain()
		}
		return drain(ctx, nc)
	})
	if opts.DegradableNATS {
		b.Ops.AddDegradable("nats", natsconn.Ready(nc))
	} else {
		b.Ops.AddCheck("nats", natsconn.Ready(nc))
	}
	if b.JS, err = jetstream.New(nc); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return b, nil
}

// drain drains nc, or closes it while NATS is away: a drain then cannot flush and fails. That
// is a shutdown's failure only if publishes waited in the reconnect buffer (they are lost); a
// service stopped while it waited for NATS lost nothing.
func drain(ctx context.Context, nc *nats.Conn) error {
	if st := nc.Status(); st == nats.RECONNECTING || st == nats.CONNECTING {
		pending, _ := nc.Buffered()
		nc.Close()
		if pending > 0 {
			return fmt.Errorf("nats away (%s) at shutdown: %d bytes of publishes lost", st, pending)
		}
		return nil
	}
	return natsconn.Drain(ctx, nc)
}

// Tenants opens the service's tenant view (tenants.Open with the file at path) and adds its
// "tenants" check to srv. The watch outlives ctx, until shutdown reaches the "tenants" step
// pushed on stack (which waits for it), so work draining at shutdown keeps its tenant view.
//
// It retries until ctx ends, except on a tenants file that does not load (tenants.ErrFile),
// which it returns at once: retrying cannot fix it. srv may be started already: the check
// must then be guarded by one the service registered before ops.Start (a "started" flag).
func Tenants(ctx context.Context, stack *lifecycle.Stack, js jetstream.JetStream, path string, srv *ops.Server,
	log *zap.Logger) (*tenants.Store, error) {
	watchCtx, waitFor := stack.Background(ctx, "tenants")
	var store *tenants.Store
	if err := lifecycle.RetryUntil(ctx, log, "open tenants", func() (err error) {
		store, err = tenants.Open(ctx, watchCtx, js, path, log)
		if errors.Is(err, tenants.ErrFile) {
			return lifecycle.Permanent(err)
		}
		return err
	}); err != nil {
		return nil, err
	}
	waitFor(store.Done())
	srv.AddCheck("tenants", store.Ready())
	return store, nil
}

// Topology waits until nc is connected and then until the assets names of the declared
// topology (with replicas) exist: the provisioner creates them, a service may not. Waiting for
// the connection first keeps the log to one reason while NATS is away, rather than a missing
// stream every retry. It returns when ctx ends.
func Topology(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, replicas int, log *zap.Logger, names ...string) error {
	if err := natsconn.WaitConnected(ctx, nc); err != nil {
		return err
	}
	return streams.Await(ctx, js, streams.Declared(streams.Options{Replicas: replicas}).Only(names...), log)
}

// Gate is a service's readiness until its Run has started every part: an ops check that fails
// with a reason until Open, and a channel closed by Open for whoever waits in process (tests,
// the local runner). Create it in New, before Ops.Start, and open it in Run only after the
// checks Run adds (tenants, ...) are in place.
type Gate struct {
	pending func()
	once    sync.Once
	opened  chan struct{}
}

// NewGate registers the gate's check name on srv, failing with reason until Open.
func NewGate(srv *ops.Server, name, reason string) *Gate {
	return &Gate{pending: srv.AddPending(name, reason), opened: make(chan struct{})}
}

// Open passes the check and closes Opened; later calls do nothing.
func (g *Gate) Open() {
	g.once.Do(func() {
		g.pending()
		close(g.opened)
	})
}

// Opened is closed once Open was called. It stays open when Run ends before: wait on it
// together with Run's end.
func (g *Gate) Opened() <-chan struct{} { return g.opened }
