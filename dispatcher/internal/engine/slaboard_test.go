package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/sla"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestBoardFlag: the board shows a conversation's most pressing announced service-level
// state: a breach over a risk, the earlier target between two alike; a first response given
// clears its risk but not its breach; nothing announced shows nothing.
func TestBoardFlag(t *testing.T) {
	t.Parallel()
	both := sla.Policy{FirstResponse: time.Minute, Resolution: time.Hour, WarnRatio: 0.5}
	tests := []struct {
		name string
		c    sla.Clock
		p    sla.Policy
		want slaFlag
	}{
		{name: "nothing announced", c: sla.Clock{Start: now0}, p: both},
		{name: "first response at risk", c: sla.Clock{Start: now0, Sent: sla.SentFirstRisk}, p: both,
			want: slaFlag{frames.SLAAtRisk, frames.SLAFirstResponse, now0.Add(time.Minute)}},
		{name: "answered: the risk is gone", c: sla.Clock{Start: now0, Sent: sla.SentFirstRisk, Replied: true}, p: both},
		{name: "answered late: the breach stays", c: sla.Clock{Start: now0, Sent: sla.SentFirstRisk | sla.SentFirstBreach, Replied: true}, p: both,
			want: slaFlag{frames.SLABreached, frames.SLAFirstResponse, now0.Add(time.Minute)}},
		{name: "a resolution breach wins over a first-response risk",
			c:    sla.Clock{Start: now0, Sent: sla.SentFirstRisk | sla.SentResolutionRisk | sla.SentResolutionBreach},
			p:    sla.Policy{FirstResponse: 2 * time.Hour, Resolution: time.Hour, WarnRatio: 0.1},
			want: slaFlag{frames.SLABreached, frames.SLAResolution, now0.Add(time.Hour)}},
		{name: "two risks: the one due first", c: sla.Clock{Start: now0, Sent: sla.SentFirstRisk | sla.SentResolutionRisk}, p: both,
			want: slaFlag{frames.SLAAtRisk, frames.SLAFirstResponse, now0.Add(time.Minute)}},
		{name: "no such target in the policy", c: sla.Clock{Start: now0, Sent: sla.SentFirstBreach},
			p: sla.Policy{Resolution: time.Hour, WarnRatio: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := boardFlag(tt.c, tt.p); got != tt.want {
				t.Fatalf("boardFlag = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCsatDay: ratings of today in the tenant's zone count once per conversation, per tenant
// and per agent; yesterday's do not; a new day starts from zero.
func TestCsatDay(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// 2026-03-02 23:30 in Shanghai is 15:30 UTC.
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	rating := func(score int32, at time.Time) *fd.Rating { return &fd.Rating{Score: score, At: timestamppb.New(at)} }
	type add struct {
		conv, agent string
		r           *fd.Rating
		now         time.Time
		counted     bool
	}
	tests := []struct {
		name   string
		adds   []add
		day    string
		total  csatSum
		agents map[string]csatSum
	}{
		{name: "two agents and one without", day: "2026-03-02", total: csatSum{3, 9},
			agents: map[string]csatSum{"a1": {1, 5}, "a2": {1, 3}},
			adds:   []add{{"c1", "a1", rating(5, now), now, true}, {"c2", "a2", rating(3, now), now, true}, {"c3", "", rating(1, now), now, true}}},
		{name: "a conversation counts once", day: "2026-03-02", total: csatSum{1, 4}, agents: map[string]csatSum{"a1": {1, 4}},
			adds: []add{{"c1", "a1", rating(4, now), now, true}, {"c1", "a1", rating(4, now), now, false}}},
		{name: "rated yesterday in the tenant's zone", day: "2026-03-02", agents: map[string]csatSum{},
			adds: []add{{"c1", "a1", rating(4, now.Add(-24*time.Hour)), now, false}}},
		{name: "no rating", day: "2026-03-02", agents: map[string]csatSum{}, adds: []add{{"c1", "a1", nil, now, false}}},
		{name: "midnight in Shanghai starts again", day: "2026-03-03", total: csatSum{1, 2}, agents: map[string]csatSum{"a1": {1, 2}},
			adds: []add{{"c1", "a1", rating(5, now), now, true}, {"c2", "a1", rating(2, now.Add(time.Hour)), now.Add(time.Hour), true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d csatDay
			for i, a := range tt.adds {
				if got := d.add(a.conv, a.agent, a.r, a.now, shanghai); got != a.counted {
					t.Fatalf("add %d counted %v, want %v", i, got, a.counted)
				}
			}
			if d.day != tt.day || d.total != tt.total || fmt.Sprint(d.agents) != fmt.Sprint(tt.agents) {
				t.Fatalf("tally %s %+v %v, want %s %+v %v", d.day, d.total, d.agents, tt.day, tt.total, tt.agents)
			}
		})
	}
}

// TestRosterHidesRatings: the roster every staff session receives carries no agent's ratings;
// the board keeps them.
func TestRosterHidesRatings(t *testing.T) {
	t.Parallel()
	b := &fd.Board{Agents: []*fd.BoardAgent{{Id: "a1", CsatCount: 2, CsatSum: 9}}, Csat: &fd.BoardCsat{Count: 2, Sum: 9}}
	r := rosterOf(b)
	if a := r.GetAgents()[0]; a.GetCsatCount() != 0 || a.GetCsatSum() != 0 || r.GetCsat() != nil {
		t.Fatalf("roster %v", r)
	}
	if b.GetAgents()[0].GetCsatCount() != 2 {
		t.Fatalf("the board lost its ratings: %v", b)
	}
}

// boardWatch follows the tenant's board subject.
type boardWatch struct {
	mu   sync.Mutex
	last *fd.Board
}

func (v *env) watchBoard() *boardWatch {
	v.t.Helper()
	w := &boardWatch{}
	sub, err := v.nc.Subscribe(subjects.Board(v.tenant), func(m *nats.Msg) {
		f := &fd.ServerFrame{}
		if proto.Unmarshal(m.Data, f) == nil {
			w.mu.Lock()
			w.last = f.GetBoard()
			w.mu.Unlock()
		}
	})
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = sub.Unsubscribe() })
	_ = v.nc.Flush()
	return w
}

func (w *boardWatch) row(conv string) *fd.BoardConversation {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.last.GetConversations() {
		if c.GetConv() == conv {
			return c
		}
	}
	return nil
}

// sayIn stores a message of from in conv, as a gateway does.
func (v *env) sayIn(conv, id string, from *fd.Participant, at time.Time) {
	v.t.Helper()
	data, _ := proto.Marshal(&fd.Message{Id: id, Tenant: v.tenant, Conv: conv, From: from, Kind: frames.KindText,
		Text: "hello", CreatedAt: timestamppb.New(at)})
	msg := nats.NewMsg(subjects.Messages(v.tenant, conv))
	msg.Data = data
	if _, err := v.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(id)); err != nil {
		v.t.Fatal(err)
	}
}

// TestBoardShowsServiceLevelsAndLastCustomer: on the live board, a conversation nobody answers
// turns at risk then breached on its first response; the customer's last message is its
// last_customer_at (an agent's reply does not move it); a rating counts in today's figures of
// the tenant and of the agent who held the conversation.
func TestBoardShowsServiceLevelsAndLastCustomer(t *testing.T) {
	t.Parallel()
	ten := baseTenant("acme")
	ten.ServiceLevel = &fd.ServiceLevel{FirstResponseS: 2, WarnRatio: 0.5}
	ten.Csat = &fd.Csat{Scale: frames.ScaleFive}
	v := newEnv(t, ten)
	board := v.watchBoard()
	v.waitOwner(v.start("r1", testSettings()))
	v.online("a1", "s1", 1)
	v.status("a1", frames.StatusAvailable)

	v.openConv("held", "u1", frames.StateQueued, 0)
	v.wantState("held", frames.StateAssigned, "a1")
	said := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	v.sayIn("held", "m1", customer("u1"), said)
	v.sayIn("held", "m2", agentP("a1"), time.Now())
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		r := board.row("held")
		if !r.GetLastCustomerAt().AsTime().Equal(said) {
			return fmt.Errorf("held row %v, want last customer at %v", r, said)
		}
		return nil
	})

	v.openConv("waiting", "u2", frames.StateQueued, 0) // a1 is full: nobody answers
	for _, state := range []string{frames.SLAAtRisk, frames.SLABreached} {
		testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
			r := board.row("waiting")
			if r.GetSlaState() != state || r.GetSlaTarget() != frames.SLAFirstResponse || !r.GetSlaDue().IsValid() {
				return fmt.Errorf("waiting row %v, want %s", r, state)
			}
			return nil
		})
	}
	if r := board.row("held"); r.GetSlaState() != "" {
		t.Fatalf("answered conversation flagged: %v", r)
	}

	v.convCmd(frames.CommandClose, "held", agentP("a1"), nil)
	v.wantState("held", frames.StateClosed, "")
	v.convCmd(frames.CommandRate, "held", customer("u1"), func(c *fd.Command) { c.Score = 4 })
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		board.mu.Lock()
		defer board.mu.Unlock()
		b := board.last
		var a1 *fd.BoardAgent
		for _, a := range b.GetAgents() {
			if a.GetId() == "a1" {
				a1 = a
			}
		}
		if c := b.GetCsat(); c.GetCount() != 1 || c.GetSum() != 4 || c.GetScale() != frames.ScaleFive || a1.GetCsatCount() != 1 || a1.GetCsatSum() != 4 {
			return fmt.Errorf("board csat %v, agent %v", c, a1)
		}
		return nil
	})
}

// TestNoteMessage: a customer's message moves the board's last_customer_at whatever the policy;
// a human reply stops the first-response clock only for a tenant with a policy (a tenant
// without one keeps no service-level state at all); the bot's and undecodable messages change
// nothing.
func TestNoteMessage(t *testing.T) {
	t.Parallel()
	msg := func(role string) []byte {
		data, _ := proto.Marshal(&fd.Message{Id: "m1", From: &fd.Participant{Id: "x", Role: role}, CreatedAt: timestamppb.New(now0)})
		return data
	}
	tests := []struct {
		name     string
		policy   bool
		data     []byte
		replied  bool
		customer bool
	}{
		{name: "customer, no policy", data: msg(frames.RoleCustomer), customer: true},
		{name: "customer, policy", policy: true, data: msg(frames.RoleCustomer), customer: true},
		{name: "agent, no policy", data: msg(frames.RoleAgent)},
		{name: "agent, policy", policy: true, data: msg(frames.RoleAgent), replied: true},
		{name: "supervisor, policy", policy: true, data: msg(frames.RoleSupervisor), replied: true},
		{name: "bot, policy", policy: true, data: msg(frames.RoleBot)},
		{name: "garbage", policy: true, data: []byte{0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s slaClocks
			s.on.Store(tt.policy)
			s.noteMessage("c1", tt.data)
			if s.replied["c1"] != tt.replied {
				t.Fatalf("replied %v, want %v", s.replied["c1"], tt.replied)
			}
			if at, ok := s.lastCustomer["c1"]; ok != tt.customer || (ok && !at.Equal(now0)) {
				t.Fatalf("last customer %v (%v), want %v", at, ok, tt.customer)
			}
			if !tt.policy && s.replied != nil {
				t.Fatalf("a tenant without a policy keeps replies: %v", s.replied)
			}
		})
	}
}

// TestDeliveriesFollowOwnedTenants: a replica listens to the republished messages of the
// tenants it owns, not to every tenant's, and stops when it stops.
func TestDeliveriesFollowOwnedTenants(t *testing.T) {
	t.Parallel()
	v := newEnv(t, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", testSettings()))
	interest := func(tenant string) int {
		sz, err := v.srv.Server().Subsz(&server.SubszOptions{Subscriptions: true, Test: subjects.Deliver(tenant, "c1")})
		if err != nil {
			t.Fatal(err)
		}
		return sz.Total
	}
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := interest("acme"); n != 1 {
			return fmt.Errorf("%d subscriptions to acme's deliveries", n)
		}
		return nil
	})
	if n := interest("globex"); n != 0 {
		t.Fatalf("%d subscriptions to a tenant nobody owns", n)
	}
	r.stop()
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := interest("acme"); n != 0 {
			return fmt.Errorf("%d subscriptions left after the replica stopped", n)
		}
		return nil
	})
}
