package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"dispatcher", "--version"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "dispatcher ") {
		t.Fatalf("version output %q", out.String())
	}
}

func TestBadConfigNamesKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		key  string
	}{
		{name: "partitions", env: map[string]string{"FRONTDESK_DISPATCHER_PARTITIONS": "0"}, key: "dispatcher.partitions"},
		{name: "duration", env: map[string]string{"FRONTDESK_DISPATCHER_GRACE": "0s"}, key: "dispatcher.grace"},
		{name: "lease vs tick", env: map[string]string{"FRONTDESK_DISPATCHER_LEASE_TTL": "100ms"}, key: "dispatcher.lease_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), []string{"dispatcher"}, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error = %v, want one naming %s", err, tt.key)
			}
		})
	}
}
