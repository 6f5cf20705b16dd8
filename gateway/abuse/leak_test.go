package abuse_test

import (
	"testing"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
