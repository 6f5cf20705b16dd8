package session

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// frameSpanNames are the span names of the frame types with a handler ("frame send"), made
// once so a traced frame does not build its name.
var frameSpanNames = func() map[string]string {
	names := make(map[string]string, len(frameHandlers))
	for typ := range frameHandlers {
		names[typ] = "frame " + typ
	}
	return names
}()

// startFrame starts the span of one client frame, the root of everything the frame causes
// across the bus: what the handler publishes carries its context. With tracing off it returns
// ctx and a span that records nothing, at no cost.
func (s *Session) startFrame(ctx context.Context, f *fd.ClientFrame) (context.Context, trace.Span) {
	ctx, span := s.m.cfg.Tracer.Start(ctx, frameSpanNames[f.GetType()], trace.SpanKindServer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("frontdesk.tenant", s.tenant), attribute.String("frontdesk.role", s.role),
			attribute.String("frontdesk.frame", f.GetType()), attribute.String("frontdesk.conv", f.GetConv()))
	}
	return ctx, span
}

// frameFailed marks a frame's span as failed.
func frameFailed(span trace.Span, err error) {
	if span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}
