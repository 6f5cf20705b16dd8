package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/services/quota"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The streams retention cuts per tenant. JetStream has no per-tenant age, so retention asks
// the server for the first message stored since the cutoff and purges the tenant's subjects
// below it: every message of the tenant older than retention.days goes, whatever its
// conversation, and no other tenant's. The streams' own MaxAge (30 days) still bounds tenants
// that keep messages longer in Postgres.
func tenantStreams(tenant string) []struct{ stream, filter string } {
	return []struct{ stream, filter string }{
		{subjects.StreamMessages, subjects.TenantMessages(tenant)},
		{subjects.StreamEvents, subjects.TenantEvents(tenant)},
		{subjects.StreamEvents, subjects.TenantContactEvents(tenant)}, // not under TenantEvents
		{subjects.StreamReads, subjects.TenantReads(tenant)},
		{subjects.StreamCommands, subjects.TenantConvCommands(tenant)},
	}
}

// expireBus applies a tenant's retention to the streams and the buckets: stream messages
// older than cutoff, and the conversation and participation keys of conversations closed
// before it (in batches, each marked in Postgres once done), and the tenant's quota day
// counts older than yesterday.
func (r *Runner) expireBus(ctx context.Context, tenant string, cutoff time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	var errs []error
	for _, s := range tenantStreams(tenant) {
		below, err := r.opt.Bus.FirstSince(ctx, s.stream, s.filter, cutoff)
		if err == nil && below > 1 {
			var n int64
			n, err = r.opt.Bus.Purge(ctx, s.stream, s.filter, below)
			out["stream."+s.stream] += n
		}
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, err)
		}
	}
	for range r.opt.MaxBatches {
		convs, err := r.st.ClosedBefore(ctx, tenant, cutoff, r.opt.BatchSize)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, c := range convs {
			for _, k := range []struct{ bucket, key string }{
				{subjects.BucketConversations, subjects.ConversationKey(tenant, c)},
				{subjects.BucketParticipants, subjects.ParticipantKey(tenant, "*", c)},
			} {
				n, err := r.opt.Bus.Purge(ctx, subjects.KVStream(k.bucket), subjects.KVPut(k.bucket, k.key), 0)
				out["kv."+k.bucket] += n
				if err != nil {
					return out, errors.Join(append(errs, err)...)
				}
			}
		}
		if len(convs) > 0 {
			if err := r.st.MarkBusExpired(ctx, tenant, convs); err != nil {
				return out, errors.Join(append(errs, err)...)
			}
		}
		if len(convs) < r.opt.BatchSize {
			break
		}
	}
	if err := r.expireQuotaDays(ctx, tenant); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// expireQuotaDays removes the tenant's message counts of days before yesterday: a quota
// counts one UTC day, and gateways may still be finishing yesterday's.
func (r *Runner) expireQuotaDays(ctx context.Context, tenant string) error {
	keep := map[string]bool{}
	for _, d := range []time.Duration{0, -24 * time.Hour} {
		keep[subjects.QuotaMessagesKey(tenant, quota.Day(r.now().Add(d)))] = true
	}
	kv, err := r.opt.JS.KeyValue(ctx, subjects.BucketQuotas)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("quota bucket: %w", err)
	}
	lister, err := kv.ListKeysFiltered(ctx, subjects.QuotaMessagesKey(tenant, "*"))
	if err != nil {
		return fmt.Errorf("quota days of %s: %w", tenant, err)
	}
	var old []string
	for k := range lister.Keys() {
		if !keep[k] {
			old = append(old, k)
		}
	}
	for _, k := range old {
		if _, err := r.opt.Bus.Purge(ctx, subjects.KVStream(subjects.BucketQuotas), subjects.KVPut(subjects.BucketQuotas, k), 0); err != nil {
			return err
		}
	}
	return nil
}

// expireAttachments deletes the attachments stored before each tenant's cutoff (cutoffs holds
// the tenants with a retention), giving their bytes back to the tenants' quotas. One listing
// of the store serves every tenant.
func (r *Runner) expireAttachments(ctx context.Context, cutoffs map[string]time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	if len(cutoffs) == 0 {
		return out, nil
	}
	all, err := r.opt.Bus.Attachments(ctx)
	if err != nil {
		return out, err
	}
	for _, a := range all {
		cutoff, ok := cutoffs[a.Tenant]
		if !ok || !a.Stored.Before(cutoff) {
			continue
		}
		if err := r.opt.Bus.DeleteAttachment(ctx, a); err != nil {
			return out, err
		}
		out[a.Tenant]++
	}
	return out, nil
}
