// Package retention removes or anonymizes old messages per tenant, as each tenant's settings
// say (retention.days, retention.mode), in bounded batches on a ticker; with Options.Bus it
// also removes them from the streams, the buckets and the attachment store (bus.go), and it
// finishes erasures left unfinished (Options.Resume). Settings come from
// the live tenant store, so a change applies at the next run without a restart. Replicas may
// all run it: batches lock rows with SKIP LOCKED, so they share the work instead of
// colliding.
package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/bus"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Tenants is the live tenant settings source (the chassis tenants.Store).
type Tenants interface {
	// Get returns a tenant's settings; false for a tenant that is not configured.
	Get(id string) (*fd.Tenant, bool)
}

// Options tune retention.
type Options struct {
	// Interval between runs (default 10m).
	Interval time.Duration
	// BatchSize is the most rows one statement changes (default 1000).
	BatchSize int
	// MaxBatches bounds the batches per tenant per run (default 100), so one tenant's backlog
	// cannot starve the others or the ingest; the rest waits for the next run.
	MaxBatches int
	// Bus, with JS, applies retention to the streams, the buckets and the attachment store
	// too (bus.go); nil: Postgres only.
	Bus *bus.Bus
	JS  jetstream.JetStream
	// Resume, if set, is called at the start of every run (the unfinished erasures).
	Resume func(context.Context) error
}

// Runner applies retention.
type Runner struct {
	st      *store.Store
	tenants Tenants
	opt     Options
	log     *zap.Logger
	now     func() time.Time
	rows    *prometheus.CounterVec
	bus     *prometheus.CounterVec
}

// New returns a runner; reg may be nil.
func New(st *store.Store, tenants Tenants, opt Options, reg prometheus.Registerer, log *zap.Logger) *Runner {
	if opt.Interval <= 0 {
		opt.Interval = 10 * time.Minute
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	if opt.MaxBatches <= 0 {
		opt.MaxBatches = 100
	}
	r := &Runner{st: st, tenants: tenants, opt: opt, log: log, now: time.Now,
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_retention_rows_total",
			Help: "Messages deleted or anonymized by retention.",
		}, []string{"mode"}),
		bus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_retention_bus_total",
			Help: "Stream messages, bucket keys (store: stream.<name>, kv.<bucket>) and attachments (objects) removed by retention.",
		}, []string{"store"}),
	}
	if reg != nil {
		reg.MustRegister(r.rows, r.bus)
	}
	return r
}

// Run applies retention every Interval until ctx ends. Failures are logged and retried at
// the next run: retention is never urgent enough to stop the service.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.opt.Interval)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retention run failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce applies retention once to every tenant the record holds and returns the rows
// changed per tenant.
func (r *Runner) RunOnce(ctx context.Context) (map[string]int64, error) {
	var errs []error
	if r.opt.Resume != nil {
		if err := r.opt.Resume(ctx); err != nil {
			errs = append(errs, fmt.Errorf("resume erasures: %w", err))
		}
	}
	ids, err := r.st.Tenants(ctx)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	out := map[string]int64{}
	cutoffs := map[string]time.Time{}
	for _, id := range ids {
		t, ok := r.tenants.Get(id)
		if !ok {
			// Not configured (any more): its data is kept; deleting on a missing setting
			// would turn a configuration mistake into data loss.
			continue
		}
		ret := t.GetRetention()
		mode := ret.GetMode()
		if mode == "" {
			mode = store.RetentionDelete
		}
		if err := r.st.SyncTenant(ctx, id, t.GetName(), ret.GetDays(), mode); err != nil {
			errs = append(errs, err)
			continue
		}
		if ret.GetDays() <= 0 {
			continue
		}
		cutoff := r.now().Add(-time.Duration(ret.GetDays()) * 24 * time.Hour)
		if r.opt.Bus != nil {
			// Before Postgres: the conversations closed before the cutoff are found there.
			cutoffs[id] = cutoff
			n, err := r.expireBus(ctx, id, cutoff)
			if err != nil {
				errs = append(errs, err)
			}
			for k, v := range n {
				r.bus.WithLabelValues(k).Add(float64(v))
			}
		}
		for range r.opt.MaxBatches {
			n, err := r.st.ExpireMessages(ctx, id, cutoff, mode, r.opt.BatchSize)
			if err != nil {
				errs = append(errs, err)
				break
			}
			out[id] += n
			r.rows.WithLabelValues(mode).Add(float64(n))
			if n < int64(r.opt.BatchSize) {
				break
			}
		}
		// Beyond messages, everything personal follows the same retention in both modes.
		for _, x := range []struct {
			rows   string
			expire expireFunc
		}{{"notes", r.st.ExpireNotes}, {"contacts", r.st.ExpireContacts}, {"agent_status", r.st.ExpireAgentStatus}} {
			if n, err := r.inBatches(ctx, x.expire, id, cutoff); err != nil { // batches.go
				errs = append(errs, err)
			} else {
				r.rows.WithLabelValues(x.rows).Add(float64(n))
			}
		}
		if out[id] > 0 {
			r.log.Info("retention applied", zap.String("tenant", id), zap.String("mode", mode),
				zap.Int64("messages", out[id]), zap.Time("cutoff", cutoff))
		}
	}
	if r.opt.Bus != nil {
		n, err := r.expireAttachments(ctx, cutoffs)
		if err != nil {
			errs = append(errs, err)
		}
		for _, v := range n {
			r.bus.WithLabelValues("objects").Add(float64(v))
		}
	}
	return out, errors.Join(errs...)
}
