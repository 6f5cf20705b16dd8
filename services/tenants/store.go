package tenants

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// maxSeedAttempts bounds the compare-and-set loop of Seed when other writers race it.
const maxSeedAttempts = 5

// SeedFile loads the tenants YAML file at path and seeds them (see Seed); an empty path means
// the service was given no file and does nothing, since tenants may be managed in the bucket.
// A file that does not load is an ErrFile.
func SeedFile(ctx context.Context, kv jetstream.KeyValue, path string) error {
	if path == "" {
		return nil
	}
	ts, err := LoadFile(path)
	if err != nil {
		return fileError{err}
	}
	return Seed(ctx, kv, ts)
}

// ErrFile is matched (errors.Is) by the errors of Open and SeedFile that come from the
// tenants file itself (unreadable, not strict YAML, an invalid or duplicate tenant): a
// configuration error that retrying cannot fix. Other errors of Open come from NATS.
var ErrFile = errors.New("tenants file does not load")

// fileError marks err as ErrFile without changing its message.
type fileError struct{ err error }

func (e fileError) Error() string   { return e.err.Error() }
func (e fileError) Unwrap() []error { return []error{ErrFile, e.err} }

// Open is how a service comes to know its tenants: it loads the YAML file at path (empty: no
// file, see SeedFile), opens the tenants bucket (subjects.BucketTenants), seeds it and
// watches it. The file is read first, so a file that does not load fails (ErrFile) even while
// NATS is away. The watch runs until watchCtx ends; services pass a context that outlives
// their run context so that work draining at shutdown keeps its tenant view. ctx bounds the
// opening itself.
func Open(ctx, watchCtx context.Context, js jetstream.JetStream, path string, log *zap.Logger) (*Store, error) {
	var seed []*frontdeskv1.Tenant
	if path != "" {
		ts, err := LoadFile(path)
		if err != nil {
			return nil, fileError{err}
		}
		seed = ts
	}
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		return nil, fmt.Errorf("tenants bucket: %w", err)
	}
	if err := Seed(ctx, kv, seed); err != nil {
		return nil, err
	}
	return Watch(watchCtx, kv, log)
}

// Seed writes each tenant into the bucket unless the stored value already equals it, so
// restarting every service with the same file creates no new revisions. Writes use
// Create/Update with the read revision, so a concurrent edit is re-read, not overwritten
// blindly. Tenants in the bucket but not in ts are left alone: operators may add tenants
// without the file.
func Seed(ctx context.Context, kv jetstream.KeyValue, ts []*frontdeskv1.Tenant) error {
	for _, t := range ts {
		if err := seedOne(ctx, kv, t); err != nil {
			return fmt.Errorf("seed tenant %q: %w", t.GetId(), err)
		}
	}
	return nil
}

func seedOne(ctx context.Context, kv jetstream.KeyValue, t *frontdeskv1.Tenant) error {
	if err := Validate(t); err != nil {
		return err
	}
	value, err := Marshal(t)
	if err != nil {
		return err
	}
	for range maxSeedAttempts {
		entry, err := kv.Get(ctx, t.GetId())
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = kv.Create(ctx, t.GetId(), value)
		case err != nil:
			return err
		default:
			if stored, uerr := Unmarshal(entry.Value()); uerr == nil && proto.Equal(stored, t) {
				return nil
			}
			_, err = kv.Update(ctx, t.GetId(), value, entry.Revision())
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
		// Someone wrote in between: read again and compare with what they wrote.
	}
	return fmt.Errorf("bucket kept changing during %d attempts", maxSeedAttempts)
}

// Store is a live, read-only view of the tenants bucket. Get is cheap (a read-locked map
// lookup) and safe for concurrent use.
type Store struct {
	log *zap.Logger

	mu      sync.RWMutex
	tenants map[string]*frontdeskv1.Tenant
	subs    []func(id string, t *frontdeskv1.Tenant)
	done    chan struct{}
}

// Watch loads every tenant of the bucket and returns once they are loaded; a goroutine then
// applies puts and deletes as they happen until ctx ends. A value that does not decode or
// validate is logged and ignored: the tenant keeps its last good settings (or stays unknown).
// Tenants are held with Defaults applied.
func Watch(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{
		log:     log.Named("tenants"),
		tenants: map[string]*frontdeskv1.Tenant{},
		done:    make(chan struct{}),
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch tenants: %w", err)
	}
	// The watcher sends every current value, then nil.
	for loaded := false; !loaded; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch tenants: watcher closed during the initial load: %w", context.Cause(ctx))
			}
			if e == nil {
				loaded = true
				continue
			}
			s.apply(e)
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("watch tenants: initial load: %w", ctx.Err())
		}
	}
	s.log.Info("tenants loaded", zap.Strings("tenants", s.IDs()))
	go s.run(ctx, w)
	return s, nil
}

func (s *Store) run(ctx context.Context, w jetstream.KeyWatcher) {
	defer close(s.done)
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() == nil {
					s.log.Error("tenants watcher closed")
				}
				return
			}
			if e != nil {
				s.apply(e)
			}
		case <-ctx.Done():
			return
		}
	}
}

// apply updates the map with one bucket entry and notifies subscribers.
func (s *Store) apply(e jetstream.KeyValueEntry) {
	id := e.Key()
	var t *frontdeskv1.Tenant
	switch e.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		s.log.Info("tenant removed", zap.String("tenant", id))
	default:
		raw, err := Unmarshal(e.Value())
		if err == nil {
			err = Validate(raw)
		}
		if err == nil && raw.GetId() != id {
			err = fmt.Errorf("%w: id %q differs from its key", ErrInvalid, raw.GetId())
		}
		if err != nil {
			s.log.Error("tenant settings ignored, keeping the previous ones",
				zap.String("tenant", id), zap.Uint64("revision", e.Revision()), zap.Error(err))
			return
		}
		t = Defaults(raw)
		s.log.Info("tenant settings applied", zap.String("tenant", id), zap.Uint64("revision", e.Revision()))
	}

	s.mu.Lock()
	if t == nil {
		delete(s.tenants, id)
	} else {
		s.tenants[id] = t
	}
	subs := slices.Clone(s.subs)
	s.mu.Unlock()
	for _, fn := range subs {
		fn(id, t)
	}
}

// Get returns the settings of tenant id, with Defaults applied, and whether it exists. The
// value is shared: treat it as read-only (clone it with proto.Clone to modify).
func (s *Store) Get(id string) (*frontdeskv1.Tenant, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[id]
	return t, ok
}

// IDs returns the ids of the known tenants, sorted.
func (s *Store) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.tenants))
}

// OnChange registers fn to be called after each change, from the watcher goroutine, with the
// new settings (nil when the tenant was deleted). fn must not block: the next change waits
// for it.
func (s *Store) OnChange(fn func(id string, t *frontdeskv1.Tenant)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
}

// Ready returns a readiness check failing once the watcher stopped (its context ended or the
// watch broke), when the store no longer follows changes.
func (s *Store) Ready() func(context.Context) error {
	return func(context.Context) error {
		select {
		case <-s.done:
			return errors.New("tenants watcher stopped")
		default:
			return nil
		}
	}
}

// Done is closed when the watcher goroutine has stopped.
func (s *Store) Done() <-chan struct{} { return s.done }
