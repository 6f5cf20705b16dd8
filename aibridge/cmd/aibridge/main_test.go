package main

import (
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		out  string
		err  string
	}{
		{"version", []string{"aibridge", "--version"}, nil, "aibridge", ""},
		{"bad config names the key", []string{"aibridge"}, map[string]string{"FRONTDESK_AIBRIDGE_WORKERS": "0"}, "", "aibridge.workers"},
		{"missing config file", []string{"aibridge", "-config", "does-not-exist.yaml"}, nil, "", "does-not-exist.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Fatalf("output %q", out.String())
			}
		})
	}
}
