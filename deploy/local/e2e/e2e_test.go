// Package e2e holds the end-to-end tests: the four services as separate processes (their
// real binaries) against a real NATS server and Postgres, driven over WebSocket exactly as
// the widget and the console drive them. The fault tests (build tag faults) reuse the harness.
package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// TestEndToEnd starts one system and runs the scenarios against it, each in its own tenant so
// their queues and agents do not meet.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the four services as processes")
	}
	srv := testkit.RunNATS(t)
	sys := StartSystem(t, SystemOptions{
		NATSURL: srv.URL(),
		Tenants: append(append(demoTenants(t), tenantLike(t, "queue", nil), tenantLike(t, "traffic", nil)), loadTenants(t)...),
	})
	t.Run("conversation story", func(t *testing.T) {
		t.Parallel()
		conversationStory(t, sys, "demo")
	})
	t.Run("waiting customers", func(t *testing.T) {
		t.Parallel()
		waitingCustomers(t, sys, "queue")
	})
	t.Run("traffic", func(t *testing.T) {
		// The fault tests' client population, small and without faults, so it keeps working.
		t.Parallel()
		led := runTraffic(t, sys, trafficOptions{tenant: "traffic", conversations: 12, agents: 2, maxChats: 3,
			messages: 2, interval: 200 * time.Millisecond, arrival: 100 * time.Millisecond, deadline: 90 * time.Second})
		checkRecord(t, sys, led, "traffic", 12)
	})
	t.Run("load generator", func(t *testing.T) {
		t.Parallel()
		loadgenChat(t, sys)
	})
}

// loadTenants are the load generator's tenants (no bot, limits above the offered load).
func loadTenants(t *testing.T) []*fd.Tenant {
	ts, err := stack.LoadTenants(filepath.Join("..", "..", "..", "gateway", "cmd", "loadgen", "tenants.yaml"))
	if err != nil {
		t.Fatalf("loadgen tenants: %v", err)
	}
	return ts
}

// loadgenChat runs the gateway's load generator briefly against the whole system (the
// dispatcher assigns): every acked message must reach its agent. It is the small version of
// the end-to-end latency benchmark in BENCHMARKS.md.
func loadgenChat(t *testing.T, sys *System) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binaries(t), "loadgen"), "chat",
		"-url", sys.Base, "-ops", "http://"+sys.Set.OpsAddr(stack.Gateway), "-secret", sys.Secret, "-tenant", "load",
		"-customers", "20", "-agents", "4", "-rate", "2", "-duration", "3s", "-assign=false")
	out, err := cmd.CombinedOutput()
	t.Logf("loadgen:\n%s", out)
	if err != nil {
		t.Fatalf("loadgen: %v", err)
	}
	if !strings.Contains(string(out), "20 conversations assigned") {
		t.Errorf("not every load conversation was assigned")
	}
}

// isBotFinal matches the bot's stored reply in conv (not the streamed partials).
func isBotFinal(conv string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeMessage && f.GetConv() == conv && f.GetFrom().GetRole() == frames.RoleBot && !f.GetPartial()
	}
}

// isMessage matches a stored message in conv with text.
func isMessage(conv, text string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeMessage && f.GetConv() == conv && !f.GetPartial() && f.GetText() == text
	}
}

func isState(conv, state string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeState && f.GetConv() == conv && f.GetState() == state
	}
}

func isAssignedTo(conv, agent string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeAssigned && f.GetConv() == conv && f.GetAgent().GetId() == agent
	}
}

// conversationStory is the whole life of one conversation: visitor token, a question the bot
// answers from the knowledge base, handoff, queued with a position, an agent comes online and
// is assigned, chat both ways, the customer drops and catches up with sync, a transfer to a
// second agent, close; then every message is checked in Postgres.
func conversationStory(t *testing.T, sys *System, tenant string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var acked []sent

	// A visitor asks the bot.
	cust, custTok, custID := sys.Customer(t, ctx, tenant, "Carol")
	if cust.Welcome.GetUser() != custID || cust.Welcome.GetRole() != frames.RoleCustomer {
		t.Fatalf("welcome: %s", describe(cust.Welcome))
	}
	q := send(t, ctx, cust, "", "c-1", "How long does shipping take?")
	conv := q.conv
	q.sender = custID
	acked = append(acked, q)
	reply := wait(t, ctx, cust, isBotFinal(conv))
	if !strings.Contains(strings.ToLower(reply.GetText()), "business days") {
		t.Errorf("bot answer is not the shipping article: %q", reply.GetText())
	}
	if reply.GetSeq() <= q.seq {
		t.Errorf("bot reply seq %d not after the question's %d", reply.GetSeq(), q.seq)
	}

	// Handoff: no agent is online yet, so the customer waits first in line.
	if err := cust.Send(ctx, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "h-1", Conv: conv}); err != nil {
		t.Fatal(err)
	}
	queued := wait(t, ctx, cust, wsclient.Is(frames.TypeQueued, conv))
	if queued.GetPosition() != 1 {
		t.Errorf("queued position %d, want 1: %s", queued.GetPosition(), describe(queued))
	}

	// An agent comes online and gets the conversation.
	alice := sys.Agent(t, ctx, tenant, "alice", "Alice", 3)
	got := wait(t, ctx, alice, wsclient.Is(frames.TypeAssigned, conv))
	if got.GetCustomer().GetId() != custID {
		t.Errorf("agent's assigned frame names customer %q, want %q", got.GetCustomer().GetId(), custID)
	}
	wait(t, ctx, cust, isAssignedTo(conv, "alice"))

	// Chat both ways.
	a1 := send(t, ctx, alice, conv, "a-1", "Hello Carol, I'm Alice. How can I help?")
	a1.sender = "alice"
	acked = append(acked, a1)
	wait(t, ctx, cust, isMessage(conv, a1.text))
	c2 := send(t, ctx, cust, conv, "c-2", "My parcel has not arrived.")
	c2.sender = custID
	acked = append(acked, c2)
	wait(t, ctx, alice, isMessage(conv, c2.text))

	// The customer drops; the agent writes meanwhile; the customer comes back and syncs.
	lastSeen := c2.seq
	cust.Abort()
	var missed []sent
	for i, text := range []string{"Let me check the tracking.", "It left the warehouse yesterday."} {
		m := send(t, ctx, alice, conv, fmt.Sprintf("a-miss-%d", i), text)
		m.sender = "alice"
		missed = append(missed, m)
		acked = append(acked, m)
	}
	cust = sys.Dial(t, ctx, custTok)
	var summary *fd.ConversationSummary
	for _, s := range cust.Welcome.GetConversations() {
		if s.GetConv() == conv {
			summary = s
		}
	}
	if summary == nil || summary.GetState() != frames.StateAssigned || summary.GetLastSeq() < missed[1].seq {
		t.Errorf("welcome after reconnect lists %v, want %s assigned with last_seq >= %d", cust.Welcome.GetConversations(), conv, missed[1].seq)
	}
	// Live frames that arrived before the sync are set aside: the replay must hold them.
	cust.Drop(nil)
	after := lastSeen
	if err := cust.Send(ctx, &fd.ClientFrame{Type: frames.TypeSync, Id: "s-1", Conv: conv, After: &after}); err != nil {
		t.Fatal(err)
	}
	synced := wait(t, ctx, cust, wsclient.Is(frames.TypeSynced, conv))
	if !synced.GetRecovered() || synced.GetLastSeq() < missed[1].seq {
		t.Errorf("synced: %s", describe(synced))
	}
	var replay []int64
	for _, f := range cust.Kept() {
		if f.GetType() == frames.TypeMessage && f.GetConv() == conv && !f.GetPartial() {
			replay = append(replay, f.GetSeq())
		}
	}
	for _, m := range missed {
		if !slices.Contains(replay, m.seq) {
			t.Errorf("sync replay %v lacks seq %d (%q)", replay, m.seq, m.text)
		}
	}
	if !slices.IsSorted(replay) || len(slices.Compact(slices.Clone(replay))) != len(replay) {
		t.Errorf("sync replay %v not in order or has duplicates", replay)
	}
	for _, seq := range replay {
		if seq <= lastSeen {
			t.Errorf("sync after %d replayed seq %d", lastSeen, seq)
		}
	}
	cust.Drop(nil)

	// Transfer to a second agent.
	bob := sys.Agent(t, ctx, tenant, "bob", "Bob", 3)
	// Bob must be known to the dispatcher before the transfer names him: wait for the
	// presence overview to count two available agents.
	wait(t, ctx, bob, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypePresence && f.GetAgentsAvailable() >= 2
	})
	if err := alice.Send(ctx, &fd.ClientFrame{Type: frames.TypeTransfer, Id: "t-1", Conv: conv, ToAgent: "bob"}); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, bob, wsclient.Is(frames.TypeAssigned, conv))
	// The customer learns of the transfer. (The gateway sends `assigned` naming the new
	// agent only for `assigned` events; after a transfer the customer gets `state` with
	// reason transfer. Either is accepted here.)
	wait(t, ctx, cust, func(f *fd.ServerFrame) bool {
		return isAssignedTo(conv, "bob")(f) || (isState(conv, frames.StateAssigned)(f) && f.GetReason() == "transfer")
	})
	b1 := send(t, ctx, bob, conv, "b-1", "Hi Carol, Bob here; I have arranged a replacement.")
	b1.sender = "bob"
	acked = append(acked, b1)
	if m := wait(t, ctx, cust, isMessage(conv, b1.text)); m.GetFrom().GetId() != "bob" || m.GetFrom().GetRole() != frames.RoleAgent {
		t.Errorf("message after transfer from %v, want agent bob", m.GetFrom())
	}
	c3 := send(t, ctx, cust, conv, "c-3", "Thank you!")
	c3.sender = custID
	acked = append(acked, c3)
	wait(t, ctx, bob, isMessage(conv, c3.text))

	// Close.
	if err := bob.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "x-1", Conv: conv}); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, cust, isState(conv, frames.StateClosed))

	// The record: every acked message exactly once, with its sender and text, plus the
	// bot's reply; the lifecycle events in order.
	var rows []row
	testkit.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		var err error
		if rows, err = sys.Messages(ctx, tenant, conv); err != nil {
			return err
		}
		if len(rows) < len(acked)+1 {
			return fmt.Errorf("%d messages persisted, want at least %d", len(rows), len(acked)+1)
		}
		return nil
	})
	bySeq := map[int64]row{}
	for _, r := range rows {
		bySeq[r.Seq] = r
	}
	for _, a := range acked {
		r, ok := bySeq[a.seq]
		if !ok {
			t.Errorf("acked seq %d (%q) not in Postgres", a.seq, a.text)
			continue
		}
		if r.ClientID != a.clientID || r.Sender != a.sender || r.Text != a.text {
			t.Errorf("seq %d in Postgres is %+v, want client id %s from %s: %q", a.seq, r, a.clientID, a.sender, a.text)
		}
		n := 0
		for _, r := range rows {
			if r.ClientID == a.clientID && r.Sender == a.sender {
				n++
			}
		}
		if n != 1 {
			t.Errorf("client message %s/%s stored %d times", a.sender, a.clientID, n)
		}
	}
	if r, ok := bySeq[reply.GetSeq()]; !ok || r.Role != frames.RoleBot || r.Text != reply.GetText() {
		t.Errorf("bot reply seq %d in Postgres: %+v", reply.GetSeq(), r)
	}
	testkit.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		types, err := sys.EventTypes(ctx, tenant, conv)
		if err != nil {
			return err
		}
		for _, want := range []string{"opened", "queued", "assigned", "transferred", "closed"} {
			if !slices.Contains(types, want) {
				return fmt.Errorf("events %v lack %s", types, want)
			}
		}
		if types[len(types)-1] != "closed" {
			return fmt.Errorf("events %v do not end with closed", types)
		}
		return nil
	})
	var state, agent string
	testkit.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if err := sys.DB.QueryRow(ctx, `SELECT state, agent_id FROM conversations WHERE tenant = $1 AND id = $2`,
			tenant, conv).Scan(&state, &agent); err != nil {
			return err
		}
		if state != frames.StateClosed {
			return fmt.Errorf("conversation state %q in Postgres", state)
		}
		return nil
	})
}

// waitingCustomers: one agent with room for one conversation serves a first customer while
// two more wait; the queue moves as conversations close, and the waiting customers are told
// their new positions.
func waitingCustomers(t *testing.T, sys *System, tenant string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dana := sys.Agent(t, ctx, tenant, "dana", "Dana", 1)
	wait(t, ctx, dana, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypePresence && f.GetAgentsAvailable() >= 1
	})

	type customer struct {
		c    *wsclient.Client
		id   string
		conv string
	}
	handoff := func(name string) customer {
		c, _, id := sys.Customer(t, ctx, tenant, name)
		m := send(t, ctx, c, "", "first", "I need a person please")
		if err := c.Send(ctx, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "handoff", Conv: m.conv}); err != nil {
			t.Fatal(err)
		}
		return customer{c: c, id: id, conv: m.conv}
	}

	first := handoff("First")
	wait(t, ctx, dana, wsclient.Is(frames.TypeAssigned, first.conv))
	wait(t, ctx, first.c, isAssignedTo(first.conv, "dana"))

	second := handoff("Second")
	q2 := wait(t, ctx, second.c, wsclient.Is(frames.TypeQueued, second.conv))
	if q2.GetPosition() != 1 {
		t.Errorf("second customer queued at %d, want 1", q2.GetPosition())
	}
	third := handoff("Third")
	q3 := wait(t, ctx, third.c, wsclient.Is(frames.TypeQueued, third.conv))
	if q3.GetPosition() != 2 {
		t.Errorf("third customer queued at %d, want 2", q3.GetPosition())
	}

	// Dana and the first customer talk while the others wait.
	send(t, ctx, dana, first.conv, "d-1", "Hello First!")
	wait(t, ctx, first.c, isMessage(first.conv, "Hello First!"))

	// Closing the first conversation frees Dana for the second; the third moves up.
	if err := dana.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "close-1", Conv: first.conv}); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, first.c, isState(first.conv, frames.StateClosed))
	wait(t, ctx, dana, wsclient.Is(frames.TypeAssigned, second.conv))
	wait(t, ctx, second.c, isAssignedTo(second.conv, "dana"))
	wait(t, ctx, third.c, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeQueued && f.GetConv() == third.conv && f.GetPosition() == 1
	})

	if err := dana.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "close-2", Conv: second.conv}); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, dana, wsclient.Is(frames.TypeAssigned, third.conv))
	wait(t, ctx, third.c, isAssignedTo(third.conv, "dana"))

	// Each conversation was assigned exactly once.
	for _, c := range []customer{first, second, third} {
		testkit.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			types, err := sys.EventTypes(ctx, tenant, c.conv)
			if err != nil {
				return err
			}
			if n := count(types, "assigned"); n != 1 {
				return fmt.Errorf("%s: events %v: %d assigned", c.conv, types, n)
			}
			return nil
		})
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
