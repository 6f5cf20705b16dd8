package stack

import (
	"slices"
	"testing"
)

// TestOTelEnv: the runner hands the services exactly the OpenTelemetry variables it was given.
func TestOTelEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{name: "none", env: map[string]string{"FRONTDESK_NATS_URL": "nats://x"}},
		{name: "endpoint and sampler", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_TRACES_SAMPLER": "always_on", "OTEL_UNRELATED": "x"},
			want: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", "OTEL_TRACES_SAMPLER=always_on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := OTelEnv(func(k string) string { return tc.env[k] })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("OTelEnv = %v, want %v", got, tc.want)
			}
		})
	}
}
