package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

func TestTracingFromEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		enabled  bool
		endpoint string
		bad      string // the variable a Check error names, "" for none
	}{
		{name: "nothing set is off", env: nil},
		{name: "an endpoint turns it on", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			enabled: true, endpoint: "http://collector:4318/v1/traces"},
		{name: "the traces endpoint is taken as given", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"}, enabled: true, endpoint: "http://b:4318/custom"},
		{name: "exporter none wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"},
			endpoint: "http://a:4318/v1/traces"},
		{name: "sdk disabled wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"},
			endpoint: "http://a:4318/v1/traces"},
		{name: "exporter otlp alone uses the default endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, enabled: true},
		{name: "grpc is refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			enabled: true, bad: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "unknown exporter refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, bad: "OTEL_TRACES_EXPORTER"},
		{name: "bad ratio refused", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
			bad: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "unknown sampler refused", env: map[string]string{"OTEL_TRACES_SAMPLER": "sometimes"}, bad: "OTEL_TRACES_SAMPLER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.TracingFromEnv(func(k string) string { return tc.env[k] })
			if cfg.Enabled() != tc.enabled || cfg.Endpoint != tc.endpoint {
				t.Fatalf("enabled %v endpoint %q, want %v %q", cfg.Enabled(), cfg.Endpoint, tc.enabled, tc.endpoint)
			}
			err := cfg.Check()
			var fe *config.FieldError
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.bad != "" && (!errors.As(err, &fe) || fe.Key != tc.bad):
				t.Fatalf("Check = %v, want an error naming %s", err, tc.bad)
			}
		})
	}
}

// TestLoadReadsOTelVariables: a service's config.Load fills Base.Tracing from the same
// environment as its FRONTDESK_* keys, and a bad OTEL value fails the start naming it.
func TestLoadReadsOTelVariables(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SERVICE_NAME": "gw-eu"}
	cfg := config.DefaultBase()
	if err := config.Load("", func(k string) string { return env[k] }, &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Tracing.Enabled() || cfg.Tracing.ServiceName != "gw-eu" {
		t.Fatalf("tracing = %+v", cfg.Tracing)
	}
	env["OTEL_TRACES_SAMPLER"] = "sometimes"
	cfg = config.DefaultBase()
	if err := config.Load("", func(k string) string { return env[k] }, &cfg); err == nil {
		t.Fatal("a bad OTEL_TRACES_SAMPLER was accepted")
	}
}

// TestSpansCrossNATSHeaders: one service's span goes out with a NATS message's headers, a
// second service continues it, and both arrive at a real OTLP/HTTP receiver as one trace.
func TestSpansCrossNATSHeaders(t *testing.T) {
	t.Parallel()
	rcv := testkit.RunOTLP(t)
	ctx := context.Background()
	cfg := config.TracingFromEnv(func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL()}[k]
	})
	newProvider := func(service string) *tracing.Provider {
		p, err := tracing.New(ctx, cfg, service, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		if !p.Enabled() {
			t.Fatal("provider is off with an endpoint set")
		}
		return p
	}
	gw, ps := newProvider("gateway"), newProvider("persister")

	sctx, send := gw.Tracer("test").Start(ctx, "frame send", trace.SpanKindServer)
	msg := &nats.Msg{Subject: "x", Header: tracing.InjectHeader(sctx, nil)}
	payload := tracing.InjectMap(sctx, nil)
	send.End()
	if msg.Header.Get(tracing.HeaderTraceparent) == "" || payload[tracing.HeaderTraceparent] == "" {
		t.Fatalf("no traceparent: header %v payload %v", msg.Header, payload)
	}
	for _, tc := range []struct {
		name    string
		h       nats.Header
		payload map[string]string
	}{{"from the header", msg.Header, nil}, {"from the payload", nil, payload}} {
		rctx := tracing.Extract(ctx, tc.h, tc.payload)
		_, write := ps.Tracer("test").Start(rctx, "persist "+tc.name, trace.SpanKindConsumer)
		write.End()
	}
	for _, p := range []*tracing.Provider{gw, ps} {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := p.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	spans := rcv.Spans()
	if len(spans) != 3 {
		t.Fatalf("received %d spans, want 3: %+v", len(spans), spans)
	}
	root := spans[0]
	for _, s := range spans {
		if s.Name == "frame send" {
			root = s
		}
	}
	if root.Service != "gateway" || root.ParentID != "" {
		t.Fatalf("root span %+v", root)
	}
	for _, s := range spans {
		if s.Name == root.Name {
			continue
		}
		if s.Service != "persister" || s.TraceID != root.TraceID || s.ParentID != root.SpanID {
			t.Errorf("span %+v does not continue %s/%s", s, root.TraceID, root.SpanID)
		}
	}
}

// TestTracerOffAllocatesNothing is the promise behind tracing being off by default: a span
// start, a header injection and the log fields of a frame cost no allocation.
func TestTracerOffAllocatesNothing(t *testing.T) {
	p, err := tracing.New(context.Background(), config.Tracing{}, "gateway", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("gateway/session")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() { offPath(ctx, tr) })
	if allocs != 0 {
		t.Fatalf("tracing off allocates %.1f times per frame, want 0", allocs)
	}
}

func offPath(ctx context.Context, tr tracing.Tracer) {
	ctx, span := tr.Start(ctx, "frame", trace.SpanKindServer)
	if span.IsRecording() {
		panic("recording while off")
	}
	if h := tracing.InjectHeader(ctx, nil); h != nil {
		panic(fmt.Sprint("header while off: ", h))
	}
	if f := tracing.LogFields(ctx); f != nil {
		panic("log fields while off")
	}
	span.End()
}

// BenchmarkTracerOff measures what the instrumented hot path costs with tracing off.
func BenchmarkTracerOff(b *testing.B) {
	p, _ := tracing.New(context.Background(), config.Tracing{}, "gateway", nil)
	tr := p.Tracer("gateway/session")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		offPath(ctx, tr)
	}
}

// TestLogFieldsCarryTheTrace: a log line written under a traced context names its trace and
// span; under an untraced one it names nothing.
func TestLogFieldsCarryTheTrace(t *testing.T) {
	t.Parallel()
	rcv := testkit.RunOTLP(t)
	p, err := tracing.New(context.Background(), config.Tracing{Endpoint: rcv.URL() + "/v1/traces"}, "gateway", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	ctx, span := p.Tracer("test").Start(context.Background(), "frame send", trace.SpanKindServer)
	defer span.End()
	core, logs := observer.New(zap.InfoLevel)
	tracing.Logger(ctx, zap.New(core)).Info("frame failed")
	tracing.Logger(context.Background(), zap.New(core)).Info("untraced")
	got := logs.All()
	if id := got[0].ContextMap()["trace_id"]; id != span.SpanContext().TraceID().String() {
		t.Errorf("trace_id = %v, want %s", id, span.SpanContext().TraceID())
	}
	if _, ok := got[1].ContextMap()["trace_id"]; ok {
		t.Errorf("an untraced line has a trace_id: %v", got[1].ContextMap())
	}
}
