package bot

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// noTenant is the filter of a consumer that has nobody to answer: a subject inside the
// messages stream that no tenant can publish to ('~' is not a character of a tenant id,
// subjects.ValidToken), because an empty filter list would mean every message.
var noTenant = subjects.Messages("~none", "~none")

// FilterSubjects is what the shared consumer reads: the messages of the tenants that have bot
// settings, in a stable order, or noTenant when none has. A tenant without any (the `load`
// tenant, most human-only tenants) can have no conversation in `bot` (a conversation starts
// with the bot only when the tenant's bot is enabled, and to_bot is refused when it is not),
// so its messages would only be received, decoded and acked to be skipped: about a tenth of a
// core at 1,000 messages a second over TCP. A tenant whose bot is merely turned off stays in
// the filter, so conversations still with the bot when it was turned off are answered as
// before.
func FilterSubjects(ts []*fd.Tenant) []string {
	var out []string
	for _, t := range ts {
		if t.GetBot() != nil && subjects.ValidToken(t.GetId()) {
			out = append(out, subjects.TenantMessages(t.GetId()))
		}
	}
	if len(out) == 0 {
		return []string{noTenant}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// filter is the consumer's filter for the tenants known now.
func (b *Bot) filter() []string {
	ids := b.d.Tenants.IDs()
	ts := make([]*fd.Tenant, 0, len(ids))
	for _, id := range ids {
		if t, ok := b.d.Tenants.Get(id); ok {
			ts = append(ts, t)
		}
	}
	return FilterSubjects(ts)
}

// follow keeps the consumer's filter equal to the tenants' settings until ctx ends: changed is
// signalled after each tenant change. A failed update is retried a second later. The filter is
// widened from the consumer's position (JetStream does not rewind a consumer whose filter
// changes), so a tenant whose bot settings are added is answered for the messages stored after
// the bridge saw the change; the gateways start conversations with the bot from their own view
// of the same change, and a customer's first message takes a round trip after that.
func (b *Bot) follow(ctx context.Context, changed <-chan struct{}, current []string) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
		retry = nil
		want := b.filter()
		if slices.Equal(want, current) {
			continue
		}
		if err := b.setFilter(ctx, want); err != nil {
			if ctx.Err() != nil {
				return
			}
			b.d.Log.Warn("update the consumer's tenant filter; retrying", zap.Strings("filter", want), zap.Error(err))
			retry = time.After(time.Second)
			continue
		}
		b.d.Log.Info("consumer's tenant filter updated", zap.Strings("filter", want))
		current = want
	}
}

// setFilter updates the durable consumer's filter, keeping where it started.
func (b *Bot) setFilter(ctx context.Context, filter []string) error {
	c, err := b.d.JS.Consumer(ctx, subjects.StreamMessages, Durable)
	if err != nil {
		return fmt.Errorf("read consumer %s: %w", Durable, err)
	}
	if _, err := b.update(ctx, c, filter); err != nil {
		return fmt.Errorf("update consumer %s: %w", Durable, err)
	}
	return nil
}

// update sets the existing consumer c's configuration for filter, keeping where it started
// (JetStream refuses to change where a consumer starts).
func (b *Bot) update(ctx context.Context, c jetstream.Consumer, filter []string) (jetstream.Consumer, error) {
	cfg := b.ConsumerConfig(filter, time.Now())
	old := c.CachedInfo().Config
	cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = old.DeliverPolicy, old.OptStartTime, old.OptStartSeq
	return b.d.JS.UpdateConsumer(ctx, subjects.StreamMessages, cfg)
}
