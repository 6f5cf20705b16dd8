package assign

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

type agentIn struct {
	id     string
	status string // default available
	max    int
	skills []string
	load   int           // pre-existing conversations
	idle   time.Duration // LastAssigned = t0 - idle (0: never assigned)
	off    bool          // no session
}

type convIn struct {
	conv  string
	prio  int32
	needs []string
	front bool
}

func setup(policy string, agents []agentIn, convs []convIn) *Dispatch {
	d := New(0)
	d.Policy = policy
	for _, a := range agents {
		if !a.off {
			d.Agents.Observe(Heartbeat{Agent: a.id, Session: "s-" + a.id, Online: true, TTL: time.Hour, Skills: a.skills, MaxChats: a.max}, t0)
		}
		ag := d.Agents.Ensure(a.id)
		ag.Status = frames.StatusAvailable
		if a.status != "" {
			ag.Status = a.status
		}
		for i := range a.load {
			ag.Active[fmt.Sprint(a.id, "-old", i)] = true
		}
		if a.idle > 0 {
			ag.LastAssigned = t0.Add(-a.idle)
		}
	}
	for _, c := range convs {
		d.Q.Push(&queue.Entry{Conv: c.conv, Queue: "default", Needs: queue.Needs(c.needs), Priority: c.prio, Front: c.front, Since: t0})
	}
	return d
}

// drain runs Next until nothing matches and returns "conv>agent" pairs in decision order.
func drain(d *Dispatch) []string {
	var out []string
	for {
		m, ok := d.Next(t0, nil)
		if !ok {
			return out
		}
		out = append(out, m.Entry.Conv+">"+m.Agent.ID)
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy string
		agents []agentIn
		convs  []convIn
		want   []string
	}{
		{name: "no agents", convs: []convIn{{conv: "c1"}}, want: nil},
		{name: "away agent not routable", agents: []agentIn{{id: "a", status: frames.StatusAway}}, convs: []convIn{{conv: "c1"}}, want: nil},
		{name: "offline agent not routable", agents: []agentIn{{id: "a", off: true}}, convs: []convIn{{conv: "c1"}}, want: nil},
		{
			name:   "capacity respected",
			agents: []agentIn{{id: "a", max: 2}},
			convs:  []convIn{{conv: "c1"}, {conv: "c2"}, {conv: "c3"}},
			want:   []string{"c1>a", "c2>a"},
		},
		{
			name:   "full agent skipped",
			agents: []agentIn{{id: "a", max: 1, load: 1}, {id: "b", max: 1}},
			convs:  []convIn{{conv: "c1"}},
			want:   []string{"c1>b"},
		},
		{
			name:   "priority served first",
			agents: []agentIn{{id: "a", max: 1}},
			convs:  []convIn{{conv: "c1"}, {conv: "vip", prio: 10}},
			want:   []string{"vip>a"},
		},
		{
			name:   "skill required",
			agents: []agentIn{{id: "a", max: 5}, {id: "b", max: 5, skills: []string{"billing"}}},
			convs:  []convIn{{conv: "bill", needs: []string{"billing"}}, {conv: "plain"}},
			want:   []string{"bill>b", "plain>a"},
		},
		{
			name:   "unskilled waits, others pass",
			agents: []agentIn{{id: "a", max: 5}},
			convs:  []convIn{{conv: "fr", needs: []string{"fr"}}, {conv: "plain"}},
			want:   []string{"plain>a"},
		},
		{
			name:   "least busy by ratio",
			agents: []agentIn{{id: "a", max: 4, load: 2}, {id: "b", max: 2, load: 0}, {id: "c", max: 10, load: 4}},
			convs:  []convIn{{conv: "c1"}},
			want:   []string{"c1>b"},
		},
		{
			name:   "tie broken by longest idle",
			agents: []agentIn{{id: "a", idle: time.Minute}, {id: "b", idle: time.Hour}, {id: "c", idle: 10 * time.Minute}},
			convs:  []convIn{{conv: "c1"}},
			want:   []string{"c1>b"},
		},
		{
			name:   "never assigned counts as longest idle",
			agents: []agentIn{{id: "a", idle: time.Hour}, {id: "b"}},
			convs:  []convIn{{conv: "c1"}},
			want:   []string{"c1>b"},
		},
		{
			name:   "full tie broken by id",
			agents: []agentIn{{id: "b"}, {id: "a"}},
			convs:  []convIn{{conv: "c1"}},
			want:   []string{"c1>a"},
		},
		{
			name:   "least busy spreads fairly",
			agents: []agentIn{{id: "a", max: 3}, {id: "b", max: 3}, {id: "c", max: 3}},
			convs:  []convIn{{conv: "1"}, {conv: "2"}, {conv: "3"}, {conv: "4"}, {conv: "5"}, {conv: "6"}},
			want:   []string{"1>a", "2>b", "3>c", "4>a", "5>b", "6>c"},
		},
		{
			name:   "round robin rotates regardless of load",
			policy: RoundRobin,
			agents: []agentIn{{id: "a", max: 5, load: 3}, {id: "b", max: 5}, {id: "c", max: 5}},
			convs:  []convIn{{conv: "1"}, {conv: "2"}, {conv: "3"}, {conv: "4"}},
			want:   []string{"1>a", "2>b", "3>c", "4>a"},
		},
		{
			name:   "round robin skips full",
			policy: RoundRobin,
			agents: []agentIn{{id: "a", max: 1}, {id: "b", max: 3}, {id: "c", max: 1}},
			convs:  []convIn{{conv: "1"}, {conv: "2"}, {conv: "3"}, {conv: "4"}},
			want:   []string{"1>a", "2>b", "3>c", "4>b"},
		},
		{
			name:   "front requeue before vip",
			agents: []agentIn{{id: "a", max: 1}},
			convs:  []convIn{{conv: "vip", prio: 10}, {conv: "back", front: true}},
			want:   []string{"back>a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := setup(tt.policy, tt.agents, tt.convs)
			if got := drain(d); !slices.Equal(got, tt.want) {
				t.Fatalf("decisions = %v, want %v", got, tt.want)
			}
			d.Agents.Each(func(a *Agent) {
				if a.Load() > d.Agents.Capacity(a) {
					t.Errorf("agent %s over capacity: %d > %d", a.ID, a.Load(), d.Agents.Capacity(a))
				}
			})
		})
	}
}

func TestTenantMaxChatsOverride(t *testing.T) {
	t.Parallel()
	d := setup("", []agentIn{{id: "a", max: 5}}, []convIn{{conv: "1"}, {conv: "2"}})
	d.Agents.MaxChats = 1
	if got := drain(d); !slices.Equal(got, []string{"1>a"}) {
		t.Fatalf("decisions = %v", got)
	}
}

func TestChooser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pick string
		want string
	}{
		{name: "hook picks candidate", pick: "c", want: "c"},
		{name: "unknown falls back", pick: "zzz", want: "a"},
		{name: "empty falls back", pick: "", want: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := setup("", []agentIn{{id: "a"}, {id: "b"}, {id: "c"}}, []convIn{{conv: "1"}})
			m, ok := d.Next(t0, func(_ *queue.Entry, cands []*Agent) *Agent {
				if len(cands) != 3 {
					t.Errorf("candidates = %d", len(cands))
				}
				if tt.pick == "" {
					return nil
				}
				if a := d.Agents.Get(tt.pick); a != nil {
					return a
				}
				return &Agent{ID: tt.pick}
			})
			if !ok || m.Agent.ID != tt.want {
				t.Fatalf("agent = %v, want %s", m.Agent, tt.want)
			}
		})
	}
}

func TestOfferFlow(t *testing.T) {
	t.Parallel()
	d := setup("", []agentIn{{id: "a", max: 1}, {id: "b", max: 1}}, []convIn{{conv: "1"}, {conv: "2"}})
	d.Offer = true
	m1, _ := d.Next(t0, nil)
	m2, _ := d.Next(t0, nil)
	if m1.Entry.Conv != "1" || m1.Agent.ID != "a" || m2.Entry.Conv != "2" || m2.Agent.ID != "b" || !m1.Offer {
		t.Fatalf("offers %s>%s %s>%s", m1.Entry.Conv, m1.Agent.ID, m2.Entry.Conv, m2.Agent.ID)
	}
	if _, ok := d.Next(t0, nil); ok {
		t.Fatal("offers must hold capacity")
	}
	if d.Q.Len() != 2 {
		t.Fatal("offered entries stay queued")
	}
	// b accepts; a times out.
	if e := d.Accept("b", "2", t0); e == nil || d.Q.Get("2") != nil {
		t.Fatal("accept")
	}
	if d.Accept("b", "1", t0) != nil {
		t.Fatal("accepting someone else's offer")
	}
	exp := d.Expired(t0.Add(time.Minute), 20*time.Second)
	if len(exp) != 1 || exp[0] != [2]string{"a", "1"} {
		t.Fatalf("expired = %v", exp)
	}
	d.Withdraw("a", "1", true)
	if d.Agents.Get("a").Missed != 1 {
		t.Fatal("miss not counted")
	}
	// a is excluded for conv 1, b is full: nothing. Free b: conv 1 goes to b.
	if _, ok := d.Next(t0, nil); ok {
		t.Fatal("offered again to the agent who missed it")
	}
	d.Release("b", "2")
	m, ok := d.Next(t0, nil)
	if !ok || m.Agent.ID != "b" || m.Entry.Conv != "1" {
		t.Fatalf("re-offer = %v %v", m, ok)
	}
}

func TestUndo(t *testing.T) {
	t.Parallel()
	d := setup("", []agentIn{{id: "a", max: 1}}, []convIn{{conv: "1"}, {conv: "2"}})
	m, _ := d.Next(t0, nil)
	d.Undo(m)
	if d.Q.Position("1") != 1 || d.Agents.Get("a").Load() != 0 || !d.Agents.Get("a").LastAssigned.IsZero() {
		t.Fatal("undo did not restore")
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	p := NewPool()
	hb := func(sess string, online bool) Heartbeat {
		return Heartbeat{Agent: "a", Session: sess, Online: online, TTL: 3 * time.Second}
	}
	if !p.Observe(hb("s1", true), t0) {
		t.Fatal("first session is a change")
	}
	a := p.Get("a")
	if a.Status != frames.StatusAway || p.Routable(a) {
		t.Fatal("a new agent is away, not routable")
	}
	a.Status = frames.StatusAvailable
	if p.Observe(hb("s2", true), t0) || !p.Routable(a) {
		t.Fatal("second device is not a change")
	}
	p.Observe(hb("s1", false), t0)
	if !a.Online() {
		t.Fatal("one device left, still online")
	}
	// s2 stops heartbeating (dead gateway): it expires by itself.
	if lost := p.Expire(t0.Add(2 * time.Second)); len(lost) != 0 {
		t.Fatal("expired early")
	}
	lost := p.Expire(t0.Add(3 * time.Second))
	if len(lost) != 1 || a.Online() {
		t.Fatal("did not expire")
	}
	if got := p.GoneOffline(t0.Add(4*time.Second), 2*time.Second); len(got) != 0 {
		t.Fatal("offline before grace")
	}
	if got := p.GoneOffline(t0.Add(5*time.Second), 2*time.Second); len(got) != 1 || !a.Offline {
		t.Fatal("not offline after grace")
	}
	if got := p.GoneOffline(t0.Add(9*time.Second), 2*time.Second); len(got) != 0 {
		t.Fatal("declared offline twice")
	}
	// Back within a new session: status kept.
	p.Observe(hb("s3", true), t0.Add(10*time.Second))
	if a.Offline || a.Status != frames.StatusAvailable {
		t.Fatal("status must persist across sessions")
	}
}

func TestETA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pos    int
		s      Service
		handle time.Duration
		want   time.Duration
		ok     bool
	}{
		{name: "nobody", pos: 1, s: Service{}, handle: time.Minute, ok: false},
		{name: "free slot now", pos: 1, s: Service{Slots: 3, Free: 1}, handle: time.Minute, want: 0, ok: true},
		{name: "one ahead of full", pos: 1, s: Service{Slots: 3}, handle: 3 * time.Minute, want: time.Minute, ok: true},
		{name: "more agents faster", pos: 10, s: Service{Slots: 10}, handle: time.Minute, want: time.Minute, ok: true},
		{name: "slower handling slower queue", pos: 10, s: Service{Slots: 10}, handle: 2 * time.Minute, want: 2 * time.Minute, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ETA(tt.pos, tt.s, tt.handle)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ETA = %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	r := NewRate(time.Minute)
	if r.Mean() != time.Minute {
		t.Fatal("prior")
	}
	for range 10 {
		r.Observe(10 * time.Second)
	}
	if r.Mean() != 10*time.Second {
		t.Fatalf("mean = %v", r.Mean())
	}
}

func BenchmarkAssign100k(b *testing.B) {
	d := New(0)
	for i := range 50 {
		id := fmt.Sprintf("ag%03d", i)
		d.Agents.Observe(Heartbeat{Agent: id, Session: "s", Online: true, TTL: time.Hour, MaxChats: 5}, t0)
		d.Agents.Get(id).Status = frames.StatusAvailable
	}
	for i := range 100_000 {
		d.Q.Push(&queue.Entry{Conv: fmt.Sprint("w", i), Queue: "default", Priority: int32(i % 3), Since: t0})
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// One close frees a slot; the next waiting customer takes it; a new one arrives.
		m, ok := d.Next(t0, nil)
		if !ok {
			b.Fatal("no match")
		}
		for c := range m.Agent.Active {
			d.Release(m.Agent.ID, c)
			break
		}
		i++
		d.Q.Push(&queue.Entry{Conv: fmt.Sprint("n", i), Queue: "default", Since: t0})
	}
}

func TestTransferTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		agent  *agentIn // nil: unknown to the pool
		offers int
		want   Refusal
	}{
		{name: "available with room", agent: &agentIn{id: "a", max: 2, load: 1}, want: Takes},
		{name: "unknown", want: RefusedOffline},
		{name: "offline", agent: &agentIn{id: "a", off: true}, want: RefusedOffline},
		{name: "offline and away", agent: &agentIn{id: "a", off: true, status: frames.StatusAway}, want: RefusedOffline},
		{name: "away", agent: &agentIn{id: "a", status: frames.StatusAway}, want: RefusedAway},
		{name: "away with room", agent: &agentIn{id: "a", status: frames.StatusAway, max: 5, load: 1}, want: RefusedAway},
		{name: "away and full", agent: &agentIn{id: "a", status: frames.StatusAway, max: 1, load: 1}, want: RefusedAway},
		{name: "full", agent: &agentIn{id: "a", max: 2, load: 2}, want: RefusedFull},
		{name: "full with offers", agent: &agentIn{id: "a", max: 2, load: 1}, offers: 1, want: RefusedFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var agents []agentIn
			if tt.agent != nil {
				agents = append(agents, *tt.agent)
			}
			d := setup("", agents, nil)
			a := d.Agents.Get("a")
			for i := range tt.offers {
				a.Offers[fmt.Sprint("offer", i)] = true
			}
			if got := d.Agents.TransferTarget(a); got != tt.want {
				t.Fatalf("TransferTarget = %d, want %d", got, tt.want)
			}
		})
	}
}
