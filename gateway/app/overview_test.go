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

// TestRosterOnlyWhileFollowed: the roster lists every agent of the tenant and changes with every
// assignment, so a staff session gets it only while its console follows it (the transfer
// picker is open): at once the latest the gateway has, then each change, until it stops; a
// customer may not follow it, another tenant's console never sees it.
func TestRosterOnlyWhileFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	publish := func(load int32) {
		t.Helper()
		b, _ := proto.Marshal(&fd.ServerFrame{Type: frames.TypeRoster, Board: &fd.Board{Agents: []*fd.BoardAgent{{Id: "ro_x", Load: load, Capacity: 3}}}})
		if err := e.nc.Publish(subjects.Roster("acme"), b); err != nil {
			t.Fatal(err)
		}
	}
	isRoster := func(f *fd.ServerFrame, load int32) {
		t.Helper()
		if f.GetType() != frames.TypeRoster || len(f.GetBoard().GetAgents()) != 1 || f.GetBoard().GetAgents()[0].GetLoad() != load {
			t.Fatalf("frame = %v, want a roster with ro_x at load %d", f, load)
		}
	}
	follow := func(c *client, id string, stop bool) {
		t.Helper()
		c.send(&fd.ClientFrame{Type: frames.TypeRoster, Id: id, Remove: stop})
		c.await(frames.TypeAck, hasID(id))
	}

	a, _ := g.dial(t, tok(t, "acme", "ro_a", frames.RoleAgent))
	sup, _ := g.dial(t, tok(t, "acme", "ro_boss", frames.RoleSupervisor))
	other, _ := g.dial(t, tok(t, "globex", "ro_g", frames.RoleAgent))
	publish(1)
	a.quiet(frames.TypeRoster, 300*time.Millisecond) // not following: kept, not written

	follow(a, "f1", false)
	isRoster(a.await(frames.TypeRoster), 1) // the latest, at once
	publish(2)
	isRoster(a.await(frames.TypeRoster), 2)
	sup.quiet(frames.TypeRoster, 10*time.Millisecond)

	follow(a, "f2", true)
	publish(3)
	a.quiet(frames.TypeRoster, 300*time.Millisecond)
	follow(a, "f3", false)
	isRoster(a.await(frames.TypeRoster), 3) // what changed while it did not follow
	follow(sup, "f4", false)
	isRoster(sup.await(frames.TypeRoster), 3)

	follow(other, "f5", false)
	other.quiet(frames.TypeRoster, 10*time.Millisecond)
	cust, _ := g.dial(t, tok(t, "acme", "ro_c", frames.RoleCustomer))
	cust.send(&fd.ClientFrame{Type: frames.TypeRoster, Id: "f6"})
	if er := cust.await(frames.TypeError, hasID("f6")); er.GetCode() != frames.CodeForbidden {
		t.Fatalf("customer following the roster: %v, want forbidden", er)
	}
}
