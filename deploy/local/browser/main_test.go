// Package browser_test drives the real widget and agent console in headless Chromium against a
// whole Frontdesk system started in this process: embedded NATS (JetStream), Postgres, and each
// service through its app package. Without Chromium the tests skip, except with CI=true.
package browser_test

import (
	"testing"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
