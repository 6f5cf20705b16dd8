package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
)

func TestRun(t *testing.T) {
	t.Parallel()
	kb, err := token.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := string(kb)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantOut string
		wantErr string
	}{
		{"version", []string{"gateway", "--version"}, nil, "gateway ", ""},
		{"missing keys", []string{"gateway"}, nil, "", "gateway.signing_keys"},
		{"the old shared secret", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SECRET": "0123456789abcdef0123456789abcdef"}, "", "gateway.legacy_shared_secret"},
		{"keys that do not parse", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": `{"keys":[]}`}, "", "gateway.signing_keys"},
		{"short development secret", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_DEV_SECRET": "short", "FRONTDESK_GATEWAY_DEV_TENANTS": "demo"}, "", "gateway.dev_secret: must be at least 32 bytes"},
		{"development secret without tenants", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_DEV_SECRET": "0123456789abcdef0123456789abcdef"}, "", "gateway.dev_tenants"},
		{"short legacy secret", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_LEGACY_SHARED_SECRET": "0123456789abcdef"}, "", "gateway.legacy_shared_secret: must be at least 32 bytes"},
		{"bad duration", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": keys,
			"FRONTDESK_GATEWAY_DEAD_TIMEOUT": "1s", "FRONTDESK_GATEWAY_PING_INTERVAL": "2s"}, "", "gateway.dead_timeout"},
		{"visitor rate not positive", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": keys,
			"FRONTDESK_GATEWAY_VISITOR_RATE": "0"}, "", "gateway.visitor_rate"},
		{"visitor rate not a number", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": keys,
			"FRONTDESK_GATEWAY_VISITOR_RATE": "NaN"}, "", "gateway.visitor_rate"},
		{"visitor burst not positive", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": keys,
			"FRONTDESK_GATEWAY_VISITOR_BURST": "-1"}, "", "gateway.visitor_burst"},
		{"trusted proxy not an address", []string{"gateway"}, map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": keys,
			"FRONTDESK_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "", "gateway.trusted_proxies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(out.String(), tc.wantOut) {
				t.Fatalf("out = %q, err = %v", out.String(), err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	var first bytes.Buffer
	if err := run(context.Background(), []string{"gateway", "keys"}, nil, &first); err != nil {
		t.Fatal(err)
	}
	k1, err := token.ParseKeys(first.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/keys.json"
	if err := os.WriteFile(file, first.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var next bytes.Buffer
		if err := run(context.Background(), []string{"gateway", "keys", "-rotate", file, "-keep", "2"}, nil, &next); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, next.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(file)
	k, err := token.ParseKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.KIDs()) != 2 || k.SigningKID() == k1.SigningKID() {
		t.Fatalf("after three rotations keeping 2: kids %v", k.KIDs())
	}
}
