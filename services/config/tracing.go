package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Tracing configures OpenTelemetry tracing. It is not read from the YAML file or FRONTDESK_*
// variables but from the standard OTEL_* variables (Load fills it through the same getenv), so
// a platform's usual tracing settings work unchanged. Tracing is off unless an OTLP endpoint is
// given or OTEL_TRACES_EXPORTER is otlp.
type Tracing struct {
	// Exporter is OTEL_TRACES_EXPORTER: "" (otlp when Endpoint is set, else none), "otlp" or
	// "none".
	Exporter string
	// Endpoint is the OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
	// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended (the specification's rule).
	Endpoint string
	// Protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL; only
	// http/protobuf is built in (an OTLP collector takes it on port 4318).
	Protocol string
	// Disabled is OTEL_SDK_DISABLED=true: no tracing whatever else is set.
	Disabled bool
	// Sampler and SamplerArg are OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default
	// parentbased_always_on).
	Sampler    string
	SamplerArg string
	// ServiceName is OTEL_SERVICE_NAME (default: the binary's name).
	ServiceName string
}

// Samplers are the OTEL_TRACES_SAMPLER values understood.
var Samplers = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on",
	"parentbased_always_off", "parentbased_traceidratio"}

// TracingFromEnv reads the standard OTEL_* variables through getenv.
func TracingFromEnv(getenv func(string) string) Tracing {
	t := Tracing{
		Exporter:    strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")),
		Endpoint:    strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
		Protocol:    strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")),
		Disabled:    strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true"),
		Sampler:     strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")),
		SamplerArg:  strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG")),
		ServiceName: strings.TrimSpace(getenv("OTEL_SERVICE_NAME")),
	}
	if t.Endpoint == "" {
		if base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); base != "" {
			t.Endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}
	if t.Protocol == "" {
		t.Protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	return t
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool {
	if t.Disabled || t.Exporter == "none" {
		return false
	}
	return t.Exporter == "otlp" || t.Endpoint != ""
}

// Check validates the tracing settings; errors name the variable.
func (t Tracing) Check() error {
	if err := OneOf("OTEL_TRACES_EXPORTER", t.Exporter, "", "otlp", "none"); err != nil {
		return err
	}
	if err := OneOf("OTEL_EXPORTER_OTLP_PROTOCOL", t.Protocol, "", "http/protobuf"); err != nil {
		return err
	}
	if t.Sampler != "" {
		if err := OneOf("OTEL_TRACES_SAMPLER", t.Sampler, Samplers...); err != nil {
			return err
		}
	}
	if strings.HasSuffix(t.Sampler, "traceidratio") && t.SamplerArg != "" {
		if r, err := strconv.ParseFloat(t.SamplerArg, 64); err != nil || r < 0 || r > 1 {
			return &FieldError{Key: "OTEL_TRACES_SAMPLER_ARG", Msg: fmt.Sprintf("%q is not a ratio between 0 and 1", t.SamplerArg)}
		}
	}
	return nil
}

// tracingTarget is satisfied by every configuration that embeds Base (the method is promoted),
// so Load fills the tracing settings of any service.
type tracingTarget interface{ tracingSettings() *Tracing }

func (b *Base) tracingSettings() *Tracing { return &b.Tracing }
