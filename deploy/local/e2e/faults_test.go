//go:build faults

package e2e

import (
	"context"
	"testing"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// faultTraffic is 200 conversations: a bot question, a handoff, five customer messages a
// second apart each answered by the agent, and a close. Twenty agents with room for five
// each means customers queue while others are served.
func faultTraffic(tenant string) trafficOptions {
	return trafficOptions{
		tenant:        tenant,
		conversations: 200,
		agents:        20,
		maxChats:      5,
		messages:      5,
		interval:      time.Second,
		arrival:       150 * time.Millisecond,
		deadline:      6 * time.Minute,
	}
}

// faultTenant is the demo tenant with a short agent grace period, so the test also sees
// agents come back well within it after a gateway restart.
func faultTenant(t *testing.T) *fd.Tenant {
	return tenantLike(t, "faults", func(tn *fd.Tenant) {
		tn.AgentOfflineGraceS = 60
	})
}

// TestFaultServices kills -9 and restarts each service process in turn, then restarts the
// NATS server (file storage kept), while 200 conversations run; the record must hold every
// acked message exactly once, no conversation may be assigned twice, and every waiting
// customer must be served.
func TestFaultServices(t *testing.T) {
	srv := testkit.RunNATS(t)
	sys := StartSystem(t, SystemOptions{NATSURL: srv.URL(), Tenants: []*fd.Tenant{faultTenant(t)}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pause := func(d time.Duration) bool {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(d):
				return true
			}
		}
		if !pause(5 * time.Second) {
			return
		}
		for _, svc := range []string{stack.Gateway, stack.Dispatcher, stack.Persister, stack.AIBridge} {
			t.Logf("fault: kill -9 %s", svc)
			sys.Kill(svc)
			if !pause(time.Second) {
				return
			}
			sys.Restart(t, svc)
			t.Logf("fault: %s back", svc)
			if !pause(5 * time.Second) {
				return
			}
		}
		t.Logf("fault: restart NATS")
		srv.Restart(t)
		t.Logf("fault: NATS back")
	}()
	led := runTraffic(t, sys, faultTraffic("faults"))
	cancel()
	<-done
	checkRecord(t, sys, led, "faults", 200)
}

// TestFaultCluster runs the same traffic against a three-node NATS cluster with replicas 3
// while each node in turn is stopped and restarted.
func TestFaultCluster(t *testing.T) {
	cl := testkit.RunCluster(t, 3)
	sys := StartSystem(t, SystemOptions{NATSURL: cl.URLs(), Replicas: 3, Tenants: []*fd.Tenant{faultTenant(t)}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range cl.Nodes() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(6 * time.Second):
			}
			t.Logf("fault: stop NATS node %d", i)
			cl.Node(i).Shutdown()
			select {
			case <-ctx.Done():
			case <-time.After(3 * time.Second):
			}
			cl.Node(i).Restart(t)
			cl.WaitJetStream(t)
			t.Logf("fault: NATS node %d back", i)
		}
	}()
	led := runTraffic(t, sys, faultTraffic("faults"))
	cancel()
	<-done
	checkRecord(t, sys, led, "faults", 200)
}
