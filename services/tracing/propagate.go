package tracing

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C trace context header names, as NATS headers (NATS headers are case-sensitive, so
// they are written and read exactly so, lower case as the W3C specification spells them).
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

var w3c = propagation.TraceContext{}

// InjectHeader puts the trace context of ctx on h (traceparent, tracestate) and returns h,
// made when nil. Without a valid span context in ctx (tracing off) it returns h untouched and
// allocates nothing.
func InjectHeader(ctx context.Context, h nats.Header) nats.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return h
	}
	if h == nil {
		h = nats.Header{}
	}
	w3c.Inject(ctx, headerCarrier(h))
	return h
}

// ExtractHeader returns ctx with the remote span context h carries, or ctx itself when h has
// no valid traceparent.
func ExtractHeader(ctx context.Context, h nats.Header) context.Context {
	if len(h[HeaderTraceparent]) == 0 {
		return ctx
	}
	return w3c.Extract(ctx, headerCarrier(h))
}

// InjectMap puts the trace context of ctx in m (a Message.trace map), made when nil, and
// returns it; untouched without a valid span context.
func InjectMap(ctx context.Context, m map[string]string) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return m
	}
	if m == nil {
		m = make(map[string]string, 2)
	}
	w3c.Inject(ctx, propagation.MapCarrier(m))
	return m
}

// ExtractMap returns ctx with the remote span context of m (a Message.trace map), or ctx
// itself when m has no traceparent.
func ExtractMap(ctx context.Context, m map[string]string) context.Context {
	if m[HeaderTraceparent] == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier(m))
}

// Extract returns ctx continuing the trace a NATS message carries: its headers first, else
// the payload's trace map (Message.trace), else ctx itself.
func Extract(ctx context.Context, h nats.Header, payload map[string]string) context.Context {
	if c := ExtractHeader(ctx, h); c != ctx {
		return c
	}
	return ExtractMap(ctx, payload)
}

// headerCarrier adapts a NATS header to the propagator, with the keys exactly as given.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[key] = []string{value} }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
