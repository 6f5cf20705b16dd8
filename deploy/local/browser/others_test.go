package browser_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	aibridge "github.com/frontdesk-chat/frontdesk/aibridge/app"
	dispatcher "github.com/frontdesk-chat/frontdesk/dispatcher/app"
)

// startOthers starts the dispatcher and the AI bridge (the bridge reads the model key from
// modelKeyEnv, served here without touching the process environment).
func startOthers(ctx context.Context, t *testing.T, opts options, natsURL string, log *zap.Logger, done chan error, running *int) {
	t.Helper()
	dc := dispatcher.DefaultConfig()
	dc.NATS.URL = natsURL
	dc.Ops.Addr = "127.0.0.1:0"
	dc.Shutdown.Timeout = 5 * time.Second
	if opts.presenceTTL > 0 {
		dc.Dispatcher.PresenceTTL = opts.presenceTTL
	}
	ds, err := dispatcher.New(ctx, dc, log.Named("dispatcher"))
	if err != nil {
		t.Fatalf("dispatcher: %v", err)
	}
	*running++
	go func() { done <- ds.Run(ctx) }()

	ac := aibridge.DefaultConfig()
	ac.NATS.URL = natsURL
	ac.Ops.Addr = "127.0.0.1:0"
	ac.Shutdown.Timeout = 5 * time.Second
	getenv := func(k string) string {
		if k == modelKeyEnv {
			return "sk-browser-test"
		}
		return ""
	}
	as, err := aibridge.New(ctx, ac, log.Named("aibridge"), aibridge.WithGetenv(getenv))
	if err != nil {
		t.Fatalf("aibridge: %v", err)
	}
	*running++
	go func() { done <- as.Run(ctx) }()
}
