package app_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
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
	e := apptest.NewEnv(t)
	g := e.Gateway()
	publish := func(agents, queue int32) {
		t.Helper()
		b, _ := proto.Marshal(&fd.ServerFrame{Type: frames.TypePresence, AgentsAvailable: proto.Int32(agents), QueueLength: proto.Int32(queue)})
		if err := e.NC.Publish(subjects.Overview("acme"), b); err != nil {
			t.Fatal(err)
		}
	}
	isOverview := func(f *fd.ServerFrame, agents, queue int32) {
		t.Helper()
		if f.GetType() != frames.TypePresence || f.GetAgentsAvailable() != agents || f.GetQueueLength() != queue {
			t.Fatalf("frame = %v, want presence with %d agents and %d queued", f, agents, queue)
		}
	}

	a, _ := g.Dial(t, apptest.Token(t, "acme", "ov_a", frames.RoleAgent))
	publish(3, 5)
	isOverview(a.Await(frames.TypePresence), 3, 5)

	// Nothing is published from here on: the frame after welcome is the one the gateway has.
	b, _ := g.Dial(t, apptest.Token(t, "acme", "ov_b", frames.RoleAgent))
	isOverview(b.Next(), 3, 5)
	sup, _ := g.Dial(t, apptest.Token(t, "acme", "ov_boss", frames.RoleSupervisor))
	isOverview(sup.Next(), 3, 5)
	cust, _ := g.Dial(t, apptest.Token(t, "acme", "ov_c", frames.RoleCustomer))
	// Another tenant's console gets nothing of acme's.
	other, _ := g.Dial(t, apptest.Token(t, "globex", "ov_g", frames.RoleAgent))

	publish(2, 6)
	for _, c := range []*apptest.Client{a, b, sup} {
		isOverview(c.Await(frames.TypePresence), 2, 6)
	}
	cust.Quiet(frames.TypePresence, 200*time.Millisecond)
	other.Quiet(frames.TypePresence, 10*time.Millisecond)

	// Every console of acme leaves; the customer stays, and follows no overview.
	for _, c := range []*apptest.Client{a, b, sup} {
		_ = c.Conn.CloseNow()
	}
	testkit.CheckFor(t, apptest.Wait, 10*time.Millisecond, func() error {
		for _, u := range []string{"ov_a", "ov_b", "ov_boss"} {
			if n := g.Sessions().UserSessions("acme", u); n != 0 {
				return fmt.Errorf("%s has %d sessions", u, n)
			}
		}
		return nil
	})
	publish(1, 9) // heard by no gateway session
	late, _ := g.Dial(t, apptest.Token(t, "acme", "ov_late", frames.RoleAgent))
	late.Quiet(frames.TypePresence, 300*time.Millisecond) // 2/6 is stale: not replayed
	// The dispatcher's next overview (periodic, or on the next change) reaches it, and the
	// console after it gets that one at once.
	publish(1, 9)
	isOverview(late.Await(frames.TypePresence), 1, 9)
	next, _ := g.Dial(t, apptest.Token(t, "acme", "ov_next", frames.RoleAgent))
	isOverview(next.Next(), 1, 9)
	cust.Quiet(frames.TypePresence, 100*time.Millisecond)
}

// TestRosterOnlyWhileFollowed: the roster lists every agent of the tenant and changes with every
// assignment, so a staff session gets it only while its console follows it (the transfer
// picker is open): at once the latest the gateway has, then each change, until it stops; a
// customer may not follow it, another tenant's console never sees it.
func TestRosterOnlyWhileFollowed(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	publish := func(load int32) {
		t.Helper()
		b, _ := proto.Marshal(&fd.ServerFrame{Type: frames.TypeRoster, Board: &fd.Board{Agents: []*fd.BoardAgent{{Id: "ro_x", Load: load, Capacity: 3}}}})
		if err := e.NC.Publish(subjects.Roster("acme"), b); err != nil {
			t.Fatal(err)
		}
	}
	isRoster := func(f *fd.ServerFrame, load int32) {
		t.Helper()
		if f.GetType() != frames.TypeRoster || len(f.GetBoard().GetAgents()) != 1 || f.GetBoard().GetAgents()[0].GetLoad() != load {
			t.Fatalf("frame = %v, want a roster with ro_x at load %d", f, load)
		}
	}
	follow := func(c *apptest.Client, id string, stop bool) {
		t.Helper()
		c.Send(&fd.ClientFrame{Type: frames.TypeRoster, Id: id, Remove: stop})
		c.Await(frames.TypeAck, apptest.HasID(id))
	}

	a, _ := g.Dial(t, apptest.Token(t, "acme", "ro_a", frames.RoleAgent))
	sup, _ := g.Dial(t, apptest.Token(t, "acme", "ro_boss", frames.RoleSupervisor))
	other, _ := g.Dial(t, apptest.Token(t, "globex", "ro_g", frames.RoleAgent))
	publish(1)
	a.Quiet(frames.TypeRoster, 300*time.Millisecond) // not following: kept, not written

	follow(a, "f1", false)
	isRoster(a.Await(frames.TypeRoster), 1) // the latest, at once
	publish(2)
	isRoster(a.Await(frames.TypeRoster), 2)
	sup.Quiet(frames.TypeRoster, 10*time.Millisecond)

	follow(a, "f2", true)
	publish(3)
	a.Quiet(frames.TypeRoster, 300*time.Millisecond)
	follow(a, "f3", false)
	isRoster(a.Await(frames.TypeRoster), 3) // what changed while it did not follow
	follow(sup, "f4", false)
	isRoster(sup.Await(frames.TypeRoster), 3)

	follow(other, "f5", false)
	other.Quiet(frames.TypeRoster, 10*time.Millisecond)
	cust, _ := g.Dial(t, apptest.Token(t, "acme", "ro_c", frames.RoleCustomer))
	cust.Send(&fd.ClientFrame{Type: frames.TypeRoster, Id: "f6"})
	if er := cust.Await(frames.TypeError, apptest.HasID("f6")); er.GetCode() != frames.CodeForbidden {
		t.Fatalf("customer following the roster: %v, want forbidden", er)
	}
}
