// Package tracing is every service's OpenTelemetry tracing: one provider per service built from
// the standard OTEL_* variables (config.Tracing), exporting over OTLP/HTTP, and the W3C trace
// context carried across NATS in message headers (traceparent, tracestate).
//
// Tracing is off by default, and off costs nothing on the hot paths: a Tracer from a provider
// that is off starts no span, leaves the context as it is and injects no header, without
// allocating (BenchmarkTracerOff). Code branches on Span.IsRecording before building
// attributes.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/ops"
)

// Provider is a service's tracer provider. The zero value and nil are off.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// New builds the provider of service from cfg. The resource's service.name is
// OTEL_SERVICE_NAME, else the name ctx gives the running binary (ops.WithService), else
// service. When cfg is not Enabled it returns a provider that is off. The
// exporter does not connect here: an unreachable collector drops spans (logged by the SDK's
// error handler), it never fails or slows the service.
func New(ctx context.Context, cfg config.Tracing, service string, log *zap.Logger) (*Provider, error) {
	if !cfg.Enabled() {
		return &Provider{}, nil
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	opts := []otlptracehttp.Option{}
	if cfg.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	name := service
	if n := ops.ServiceFrom(ctx); n != "" {
		name = n
	}
	if cfg.ServiceName != "" {
		name = cfg.ServiceName
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(name), semconv.ServiceVersion(buildinfo.Version)))
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	sampler, err := Sampler(cfg.Sampler, cfg.SamplerArg)
	if err != nil {
		return nil, err
	}
	// The batch processor reads OTEL_BSP_* itself (schedule delay, queue size).
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	if log != nil {
		log.Info("tracing on", zap.String("endpoint", config.RedactURL(cfg.Endpoint)), zap.String("service_name", name),
			zap.String("sampler", cfg.Sampler))
	}
	return &Provider{sdk: tp}, nil
}

// Sampler is the sampler OTEL_TRACES_SAMPLER names (default parentbased_always_on), with its
// ratio argument for the traceidratio samplers (default 1).
func Sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, &config.FieldError{Key: "OTEL_TRACES_SAMPLER_ARG", Msg: fmt.Sprintf("%q is not a ratio between 0 and 1", arg)}
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, &config.FieldError{Key: "OTEL_TRACES_SAMPLER", Msg: fmt.Sprintf("%q is not a known sampler", name)}
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Tracer returns the tracer of one instrumented part (its scope name, e.g. "gateway/session").
// A provider that is off gives the zero Tracer, which is off.
func (p *Provider) Tracer(scope string) Tracer {
	if !p.Enabled() {
		return Tracer{}
	}
	return Tracer{t: p.sdk.Tracer(scope)}
}

// Shutdown exports the spans still buffered and stops the exporter, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// Tracer starts spans, or does nothing at all when off (the zero value).
type Tracer struct {
	t trace.Tracer
}

// Enabled reports whether the tracer records spans.
func (t Tracer) Enabled() bool { return t.t != nil }

// Start starts a span named name as a child of the span in ctx (local or remote). Off, it
// returns ctx itself and a span that records nothing, without allocating.
func (t Tracer) Start(ctx context.Context, name string, kind trace.SpanKind, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.t == nil {
		return ctx, noSpan
	}
	return t.t.Start(ctx, name, append(opts, trace.WithSpanKind(kind))...)
}

// noSpan is the no-op span: SpanFromContext of a context without one.
var noSpan = trace.SpanFromContext(context.Background())

// LogFields are the zap fields that tie a log line to the trace in ctx: trace_id and span_id,
// or none when ctx carries no valid span context (tracing off).
func LogFields(ctx context.Context) []zap.Field {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []zap.Field{zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String())}
}

// Logger returns log with LogFields(ctx) added, or log itself when ctx carries no trace.
func Logger(ctx context.Context, log *zap.Logger) *zap.Logger {
	if f := LogFields(ctx); f != nil {
		return log.With(f...)
	}
	return log
}
