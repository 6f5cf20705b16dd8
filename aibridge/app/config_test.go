package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/config"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*app.Config)
		key    string
	}{
		{"defaults", func(*app.Config) {}, ""},
		{"no workers", func(c *app.Config) { c.AIBridge.Workers = 0 }, "aibridge.workers"},
		{"short ack wait", func(c *app.Config) { c.AIBridge.AckWait = time.Second }, "aibridge.ack_wait"},
		{"negative retries", func(c *app.Config) { c.AIBridge.ModelRetries = -1 }, "aibridge.model_retries"},
		{"zero first-token timeout", func(c *app.Config) { c.AIBridge.FirstTokenTimeout = 0 }, "aibridge.first_token_timeout"},
		{"bad nats url", func(c *app.Config) { c.NATS.URL = "http://x" }, "nats.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := app.DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("defaults invalid: %v", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %v does not name %s", err, tt.key)
			}
		})
	}
	if got := app.DefaultConfig().Ops.Addr; got != ":9093" {
		t.Errorf("default ops address %s", got)
	}
}

// TestLoadFromEnv checks the FRONTDESK_AIBRIDGE_* keys reach the settings.
func TestLoadFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FRONTDESK_AIBRIDGE_WORKERS": "7", "FRONTDESK_AIBRIDGE_KNOWLEDGE_ROOT": "kb",
		"FRONTDESK_AIBRIDGE_FIRST_TOKEN_TIMEOUT": "3s"}
	c := app.DefaultConfig()
	if err := config.Load("", func(k string) string { return env[k] }, &c); err != nil {
		t.Fatal(err)
	}
	if c.AIBridge.Workers != 7 || c.AIBridge.KnowledgeRoot != "kb" || c.AIBridge.FirstTokenTimeout != 3*time.Second {
		t.Fatalf("settings %+v", c.AIBridge)
	}
}
