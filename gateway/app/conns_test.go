package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestClosedSessionsLeaveTheConnectionCount: sessions that come and go (the client closing
// abruptly or cleanly) stop counting against the listener's connection caps, so one address's
// short sessions never add up to a refusal.
func TestClosedSessionsLeaveTheConnectionCount(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	base := g.OpenConnections()
	for i := range 40 {
		c, _ := g.Dial(t, apptest.Token(t, "acme", fmt.Sprint("short", i), frames.RoleCustomer))
		if i%2 == 0 {
			_ = c.Conn.CloseNow()
		} else {
			_ = c.Conn.Close(1000, "")
		}
	}
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := g.OpenConnections(); n > base {
			return fmt.Errorf("%d connections counted, %d before", n, base)
		}
		return nil
	})
}
