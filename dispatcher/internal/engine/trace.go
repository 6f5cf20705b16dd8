package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Option configures an Engine beyond its settings.
type Option func(*Engine)

// WithTracer makes the engine continue the trace each command carries (its NATS headers, put
// there by the gateway): a span per command applied, and the events, messages and frames the
// command causes carry it on. Without it (or with tracing off) nothing is traced.
func WithTracer(t tracing.Tracer) Option { return func(e *Engine) { e.tracer = t } }

// startCommand starts the span of one attempt at a command, a child of the span that
// published it.
func (t *tenant) startCommand(ctx context.Context, p *pendingCommand) (context.Context, trace.Span) {
	if !t.e.tracer.Enabled() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx, span := t.e.tracer.Start(tracing.ExtractHeader(ctx, p.msg.Headers()), "command "+p.c.GetType(), trace.SpanKindConsumer)
	span.SetAttributes(attribute.String("frontdesk.tenant", t.id), attribute.String("frontdesk.conv", p.c.GetConv()),
		attribute.Int64("frontdesk.seq", int64(p.c.seq)), attribute.Int("frontdesk.attempt", p.attempts+1))
	return ctx, span
}

// commandFailed marks a command's span as failed.
func commandFailed(span trace.Span, err error) {
	if span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}
