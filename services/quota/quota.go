// Package quota counts tenants' use of their storage quotas (frontdesk.v1.Quotas) in the
// fd_quotas bucket, so every gateway replica enforces one count: the attachment bytes a tenant
// holds, and the messages it sent each UTC day.
//
// What holds with several replicas: every change is a compare-and-set on the key's revision
// (a replica that loses the race reads again), so the stored count never passes the quota.
// Messages are taken in blocks (Block) that a replica then spends locally, so a send costs a
// bucket write only once per block; blocks a replica took but did not spend by the end of the
// day are lost to that day, so a tenant may be refused up to replicas x Block messages early,
// never let past its quota. Attachment bytes are reserved before an upload is stored and
// given back (Release) when it fails or when retention or an erase deletes attachments.
package quota

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// ErrExceeded is returned when a change would pass a quota.
var ErrExceeded = errors.New("quota exceeded")

// casTries bounds the compare-and-set retries of one change; replicas racing on one tenant's
// key converge within a few.
const casTries = 32

// Grant is the decision of a take: how much of want may be taken when used of limit is taken.
// It takes want whole or nothing for attachments (all=true), and up to want for message blocks.
func Grant(used, limit, want int64, all bool) int64 {
	left := limit - used
	switch {
	case left <= 0, want <= 0:
		return 0
	case want <= left:
		return want
	case all:
		return 0
	default:
		return left
	}
}

// Block is the number of messages a replica takes from the shared count at a time for a daily
// quota of limit: 1% of it, 1 to 100, so small quotas stay exact and big ones cost one bucket
// write per hundred sends.
func Block(limit int64) int64 { return min(max(limit/100, 1), 100) }

// Day is the UTC day of t as used in the quota keys (yyyymmdd).
func Day(t time.Time) string { return t.UTC().Format("20060102") }

// Counter changes counts in the quotas bucket. It is safe for concurrent use.
type Counter struct {
	kv  jetstream.KeyValue
	now func() time.Time

	// fetch lets one sender of this replica at a time take a block from the bucket, so the
	// compare-and-set races are between replicas, not between a replica's own senders.
	fetch  sync.Mutex
	mu     sync.Mutex
	blocks map[string]int64 // messages key -> taken and not yet spent by this replica
}

// New returns a Counter over the quotas bucket.
func New(kv jetstream.KeyValue) *Counter {
	return &Counter{kv: kv, now: time.Now, blocks: map[string]int64{}}
}

// Open binds the quotas bucket (which the provisioning step creates).
func Open(ctx context.Context, js jetstream.JetStream) (*Counter, error) {
	kv, err := js.KeyValue(ctx, subjects.BucketQuotas)
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", subjects.BucketQuotas, err)
	}
	return New(kv), nil
}

// Message takes one message of tenant's daily quota limit (0 or less: no quota). It returns
// ErrExceeded when the day's quota is spent.
func (c *Counter) Message(ctx context.Context, tenant string, limit int64) error {
	if limit <= 0 {
		return nil
	}
	key := subjects.QuotaMessagesKey(tenant, Day(c.now()))
	if c.spend(key) {
		return nil
	}
	c.fetch.Lock()
	defer c.fetch.Unlock()
	if c.spend(key) { // another sender fetched a block meanwhile
		return nil
	}
	got, err := c.add(ctx, key, Block(limit), limit, false)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.blocks { // yesterday's blocks are no use
		if k != key {
			delete(c.blocks, k)
		}
	}
	c.blocks[key] += got - 1
	return nil
}

func (c *Counter) spend(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocks[key] > 0 {
		c.blocks[key]--
		return true
	}
	return false
}

// Reserve takes n bytes of tenant's attachment quota limit (0 or less: no quota, nothing is
// counted) and returns ErrExceeded if they do not fit whole.
func (c *Counter) Reserve(ctx context.Context, tenant string, n, limit int64) error {
	if limit <= 0 || n <= 0 {
		return nil
	}
	_, err := c.add(ctx, subjects.QuotaAttachmentsKey(tenant), n, limit, true)
	return err
}

// Release gives n bytes back to tenant's attachment count (never below zero): an upload that
// failed or stored less than it reserved, or attachments retention or an erase deleted.
func (c *Counter) Release(ctx context.Context, tenant string, n int64) error {
	if n <= 0 {
		return nil
	}
	key := subjects.QuotaAttachmentsKey(tenant)
	for range casTries {
		used, rev, err := c.get(ctx, key)
		if err != nil || rev == 0 {
			return err
		}
		_, err = c.kv.Update(ctx, key, []byte(strconv.FormatInt(max(used-n, 0), 10)), rev)
		if err == nil || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return wrap(key, err)
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("quota %s: too much contention", key)
}

// Used returns the count of key (0 if absent).
func (c *Counter) Used(ctx context.Context, key string) (int64, error) {
	n, _, err := c.get(ctx, key)
	return n, err
}

// add takes up to want (all of it or nothing when all) from key's count under limit and
// returns what it took, or ErrExceeded when nothing could be taken.
func (c *Counter) add(ctx context.Context, key string, want, limit int64, all bool) (int64, error) {
	for range casTries {
		used, rev, err := c.get(ctx, key)
		if err != nil {
			return 0, err
		}
		got := Grant(used, limit, want, all)
		if got == 0 {
			return 0, fmt.Errorf("%s: %d of %d used: %w", key, used, limit, ErrExceeded)
		}
		val := []byte(strconv.FormatInt(used+got, 10))
		if rev == 0 {
			_, err = c.kv.Create(ctx, key, val)
		} else {
			_, err = c.kv.Update(ctx, key, val, rev)
		}
		switch {
		case err == nil:
			return got, nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
			// Another replica changed it first: read again after a short jittered pause, so
			// racing replicas spread out instead of colliding again.
			if err := pause(ctx); err != nil {
				return 0, err
			}
		default:
			return 0, wrap(key, err)
		}
	}
	return 0, fmt.Errorf("quota %s: too much contention", key)
}

// get reads key's count and revision (0, 0 when absent).
func (c *Counter) get(ctx context.Context, key string) (int64, uint64, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, wrap(key, err)
	}
	n, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("quota %s: %w", key, err)
	}
	return n, e.Revision(), nil
}

// pause waits 0-5 ms (a compare-and-set lost to another replica).
func pause(ctx context.Context) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(5 * time.Millisecond))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("quota %s: %w", key, err)
}
