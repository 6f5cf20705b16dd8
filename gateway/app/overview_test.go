package app_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestOverviewOnConnect: the dispatcher publishes the queue overview only when it changes (and
// otherwise seldom), so a console that connects later gets the latest one the gateway has right
// after welcome; a customer never gets one; and once every console of the tenant left, the
// gateway no longer hears the overviews, so the next console does not get the old one.
func TestOverviewOnConnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	publish := func(agents, queue int32) {
		t.Helper()
		b, _ := proto.Marshal(&fd.ServerFrame{Type: frames.TypePresence, AgentsAvailable: proto.Int32(agents), QueueLength: proto.Int32(queue)})
		if err := e.nc.Publish(subjects.Overview("acme"), b); err != nil {
			t.Fatal(err)
		}
	}
	isOverview := func(f *fd.ServerFrame, agents, queue int32) {
		t.Helper()
		if f.GetType() != frames.TypePresence || f.GetAgentsAvailable() != agents || f.GetQueueLength() != queue {
			t.Fatalf("frame = %v, want presence with %d agents and %d queued", f, agents, queue)
		}
	}

	a, _ := g.dial(t, tok(t, "acme", "ov_a", frames.RoleAgent))
	publish(3, 5)
	isOverview(a.await(frames.TypePresence), 3, 5)

	// Nothing is published from here on: the frame after welcome is the one the gateway has.
	b, _ := g.dial(t, tok(t, "acme", "ov_b", frames.RoleAgent))
	isOverview(b.next(), 3, 5)
	sup, _ := g.dial(t, tok(t, "acme", "ov_boss", frames.RoleSupervisor))
	isOverview(sup.next(), 3, 5)
	cust, _ := g.dial(t, tok(t, "acme", "ov_c", frames.RoleCustomer))
	// Another tenant's console gets nothing of acme's.
	other, _ := g.dial(t, tok(t, "globex", "ov_g", frames.RoleAgent))

	publish(2, 6)
	for _, c := range []*client{a, b, sup} {
		isOverview(c.await(frames.TypePresence), 2, 6)
	}
	cust.quiet(frames.TypePresence, 200*time.Millisecond)
	other.quiet(frames.TypePresence, 10*time.Millisecond)

	// Every console of acme leaves; the customer stays, and follows no overview.
	for _, c := range []*client{a, b, sup} {
		_ = c.c.CloseNow()
	}
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		for _, u := range []string{"ov_a", "ov_b", "ov_boss"} {
			if n := g.Sessions().UserSessions("acme", u); n != 0 {
				return fmt.Errorf("%s has %d sessions", u, n)
			}
		}
		return nil
	})
	publish(1, 9) // heard by no gateway session
	late, _ := g.dial(t, tok(t, "acme", "ov_late", frames.RoleAgent))
	late.quiet(frames.TypePresence, 300*time.Millisecond) // 2/6 is stale: not replayed
	// The dispatcher's next overview (periodic, or on the next change) reaches it, and the
	// console after it gets that one at once.
	publish(1, 9)
	isOverview(late.await(frames.TypePresence), 1, 9)
	next, _ := g.dial(t, tok(t, "acme", "ov_next", frames.RoleAgent))
	isOverview(next.next(), 1, 9)
	cust.quiet(frames.TypePresence, 100*time.Millisecond)
}
