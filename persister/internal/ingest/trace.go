package ingest

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// traceStored records a span per item whose stream message carries trace context (the
// gateway's, the AI bridge's or the dispatcher's traceparent header), from start (the batch
// taken) to now (its transaction committed), so a traced message's trace shows it reaching
// the record. Messages without trace context get none: a batch costs nothing extra for them.
func (c *Consumer[T]) traceStored(ctx context.Context, items []item[T], start time.Time) {
	name := "persist " + c.opt.Stream
	for _, x := range items {
		pctx := tracing.ExtractHeader(ctx, x.msg.Headers())
		if sc := trace.SpanContextFromContext(pctx); !sc.IsValid() || !sc.IsRemote() {
			continue
		}
		_, span := c.opt.Tracer.Start(pctx, name, trace.SpanKindConsumer, trace.WithTimestamp(start))
		span.SetAttributes(attribute.Int64("frontdesk.seq", int64(x.seq)), attribute.Int("frontdesk.batch", len(items)),
			attribute.Bool("frontdesk.dead_lettered", x.dead))
		span.End()
	}
}
