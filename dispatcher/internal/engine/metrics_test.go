package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	r := v.start("r1", testSettings())
	v.waitOwner(r)
	stop := v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)
	v.openConv("c1", "u1", frames.StateQueued, 0)
	v.openConv("c2", "u2", frames.StateQueued, 0)
	v.wantState("c1", frames.StateAssigned, "a1")
	want := func(expected string, names ...string) {
		t.Helper()
		testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			return testutil.GatherAndCompare(r.reg, strings.NewReader(expected), names...)
		})
	}
	want(`
# HELP frontdesk_dispatcher_queue_length Conversations waiting, per tenant and queue.
# TYPE frontdesk_dispatcher_queue_length gauge
frontdesk_dispatcher_queue_length{queue="general",tenant="acme"} 1
# HELP frontdesk_dispatcher_assignments_total Conversations assigned to an agent (rate() gives assignments per second).
# TYPE frontdesk_dispatcher_assignments_total counter
frontdesk_dispatcher_assignments_total{tenant="acme"} 1
`, "frontdesk_dispatcher_queue_length", "frontdesk_dispatcher_assignments_total")
	if n := testutil.CollectAndCount(r.e.m.timeToAssign); n != 1 {
		t.Fatalf("time to assign series = %d", n)
	}
	if got := testutil.ToFloat64(r.e.m.agents.WithLabelValues("acme", frames.StatusAvailable)); got != 1 {
		t.Fatalf("available agents = %v", got)
	}
	if got := testutil.ToFloat64(r.e.m.oldestWait.WithLabelValues("acme", "general")); got <= 0 {
		t.Fatalf("oldest wait = %v", got)
	}
	stop(false) // gateway dies: c1 re-queued after TTL and grace
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := testutil.ToFloat64(r.e.m.requeues.WithLabelValues("acme", frames.ReasonAgentOffline)); got != 1 {
			return fmt.Errorf("requeues = %v", got)
		}
		if got := testutil.ToFloat64(r.e.m.agents.WithLabelValues("acme", frames.StatusOffline)); got != 1 {
			return fmt.Errorf("offline agents = %v", got)
		}
		return nil
	})
}
