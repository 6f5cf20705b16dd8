package bot

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// startReply starts the span of answering one customer message, continuing the trace the
// gateway put on it (headers, else the payload's trace map). The model call, the reply and a
// handoff command published under it carry it on.
func (b *Bot) startReply(ctx context.Context, jm jetstream.Msg, m *fd.Message, tenant, conv string) (context.Context, trace.Span) {
	if !b.d.Tracer.Enabled() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx, span := b.d.Tracer.Start(tracing.Extract(ctx, jm.Headers(), m.GetTrace()), "bot reply", trace.SpanKindConsumer)
	span.SetAttributes(attribute.String("frontdesk.tenant", tenant), attribute.String("frontdesk.conv", conv),
		attribute.String("frontdesk.message", m.GetId()))
	return ctx, span
}

// replyDone records a reply's outcome on its span.
func replyDone(span trace.Span, outcome string, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("frontdesk.outcome", outcome))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}
