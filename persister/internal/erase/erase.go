// Package erase removes one customer of a tenant everywhere (GDPR): their open conversations
// from the dispatcher (closed and forgotten), the dead-letter copies of their data, the
// messages, events, read positions and commands of their conversations in the streams and in
// Postgres, the conversations' and participation keys and the open-conversation key in the
// buckets, the attachments of their conversations or that they uploaded, and their profile
// rows; then an erased event tells platform consumers to erase their copies.
//
// Each store is an Eraser in a Registry, so a store added later (a contacts or notes table)
// plugs in with Register (a Postgres table with one Table entry) and is erased, counted and
// audited like the rest. An erase is idempotent and resumable: the request is recorded first
// (erasures table, with the conversations found), every eraser removes what is left of the
// customer, and the row is marked finished only when all succeeded; an interrupted erase is
// resumed by the next request for the same customer or by Resume (the persister calls it on
// every retention run). Erasers run in registration order and must be idempotent.
package erase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"
)

// Target is who is erased and what was found of them.
type Target struct {
	Tenant string
	// User is the customer's user id.
	User string
	// Convs are the customer's conversations (as the customer), found in Postgres and the
	// participation keys when the erase started, and again on each attempt.
	Convs []string
	// Erasure is the erase's audit id (the erased event's).
	Erasure string
}

// Eraser removes what one store holds of a target and returns counts by item kind
// ("postgres.messages", "stream.FD_MESSAGES", ...). Erasing what is already gone counts 0.
type Eraser interface {
	// Name names the eraser in logs and errors.
	Name() string
	// Erase removes the target's data from the store.
	Erase(ctx context.Context, t Target) (map[string]int64, error)
}

// Finder adds to a target's conversations what a store knows of them (Postgres rows, bucket
// keys), before anything is erased.
type Finder interface {
	// Find returns conversation ids of t.User as the customer in t.Tenant.
	Find(ctx context.Context, t Target) ([]string, error)
}

// Registry is the set of stores an erase goes through.
type Registry struct {
	finders    []Finder
	erasers    []Eraser
	tombstones *Tombstones
}

// Tombstones has Resume expire the erases' tombstones with x.
func (r *Registry) Tombstones(x Tombstones) { r.tombstones = &x }

// Register adds erasers, run after those registered before them. Register a store whose rows
// refer to others' (a table with a foreign key to conversations) before what it refers to.
func (r *Registry) Register(e ...Eraser) { r.erasers = append(r.erasers, e...) }

// Finders adds finders of the customer's conversations.
func (r *Registry) Finders(f ...Finder) { r.finders = append(r.finders, f...) }

// Erasers lists the registered erasers' names in order.
func (r *Registry) Erasers() []string {
	out := make([]string, len(r.erasers))
	for i, e := range r.erasers {
		out[i] = e.Name()
	}
	return out
}

// Result is what an erase did.
type Result struct {
	// ID is the audit row's id.
	ID string
	// Counts are the items removed per kind, over every attempt of this erase.
	Counts map[string]int64
}

// Eraser runs erasures with an audit.
type Runner struct {
	reg   *Registry
	audit *Audit
	log   *zap.Logger

	// One erasure runs once at a time in this process: a requested erase and retention's
	// Resume (which sees every unfinished row, the one being run included) would otherwise run
	// it side by side and trip over each other's deletes. The second waits and then finds the
	// work done. (Across replicas every step is idempotent.)
	mu      sync.Mutex
	running map[string]*held
}

// held is an erasure's lock and how many runs hold or wait for it.
type held struct {
	sync.Mutex
	n int
}

// NewRunner returns a runner over reg that records erasures in audit.
func NewRunner(reg *Registry, audit *Audit, log *zap.Logger) *Runner {
	return &Runner{reg: reg, audit: audit, log: log, running: map[string]*held{}}
}

// hold takes erasure id's lock for the caller and returns its release.
func (r *Runner) hold(id string) func() {
	r.mu.Lock()
	h := r.running[id]
	if h == nil {
		h = &held{}
		r.running[id] = h
	}
	h.n++
	r.mu.Unlock()
	h.Lock()
	return func() {
		h.Unlock()
		r.mu.Lock()
		if h.n--; h.n == 0 {
			delete(r.running, id)
		}
		r.mu.Unlock()
	}
}

// ErrBadRequest is wrapped for a request without a tenant, user or requester.
var ErrBadRequest = errors.New("tenant, user and requested_by are required")

// Erase erases user of tenant, as asked by by. A second request for a customer whose erase is
// unfinished resumes it; one for a customer already erased erases what appeared since (nothing,
// usually) under a new audit row.
func (r *Runner) Erase(ctx context.Context, tenant, user, by string) (Result, error) {
	if tenant == "" || user == "" || by == "" {
		return Result{}, ErrBadRequest
	}
	row, err := r.audit.Begin(ctx, tenant, user, by)
	if err != nil {
		return Result{}, err
	}
	return r.run(ctx, row)
}

// Resume finishes every erase of the record left unfinished (a persister stopped mid-way),
// and drops the tombstones no stream needs any more (Registry.Tombstones). The persister
// calls it on every retention run.
func (r *Runner) Resume(ctx context.Context) error {
	var errs []error
	if x := r.reg.tombstones; x != nil {
		n, err := x.Expire(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("expire tombstones: %w", err))
		} else if n > 0 {
			r.log.Info("erase tombstones expired", zap.Int64("tombstones", n))
		}
	}
	rows, err := r.audit.Unfinished(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, row := range rows {
		if _, err := r.run(ctx, row); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) run(ctx context.Context, row Row) (Result, error) {
	defer r.hold(row.ID)()
	t := Target{Tenant: row.Tenant, User: row.User, Convs: row.Convs, Erasure: row.ID}
	for _, f := range r.reg.finders {
		convs, err := f.Find(ctx, t)
		if err != nil {
			return r.fail(ctx, row, fmt.Errorf("find conversations: %w", err))
		}
		t.Convs = append(t.Convs, convs...)
	}
	slices.Sort(t.Convs)
	t.Convs = slices.Compact(t.Convs)
	// Kept before anything is erased: once the rows are gone, a resumed erase knows the
	// conversations only from here.
	if err := r.audit.Found(ctx, row.ID, t.Convs); err != nil {
		return r.fail(ctx, row, err)
	}
	counts := map[string]int64{}
	for _, e := range r.reg.erasers {
		c, err := e.Erase(ctx, t)
		for k, v := range c {
			counts[k] += v
		}
		if err != nil {
			_ = r.audit.Add(context.WithoutCancel(ctx), row.ID, counts)
			return r.fail(ctx, row, fmt.Errorf("erase %s: %w", e.Name(), err))
		}
	}
	total, err := r.audit.Finish(ctx, row.ID, counts)
	if err != nil {
		return r.fail(ctx, row, err)
	}
	r.log.Info("customer erased", zap.String("erasure", row.ID), zap.String("tenant", row.Tenant),
		zap.String("by", row.By), zap.Int("conversations", len(t.Convs)), zap.Any("counts", total))
	return Result{ID: row.ID, Counts: total}, nil
}

func (r *Runner) fail(ctx context.Context, row Row, err error) (Result, error) {
	_ = r.audit.Failed(context.WithoutCancel(ctx), row.ID, err)
	return Result{ID: row.ID}, fmt.Errorf("erasure %s: %w", row.ID, err)
}
