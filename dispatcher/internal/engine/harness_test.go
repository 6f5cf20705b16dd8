package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// env is one test's NATS server, a client standing in for gateways and agents, and the
// tenant under test.
type env struct {
	t      testing.TB
	srv    *testkit.NATS
	nc     *nats.Conn
	js     jetstream.JetStream
	tenant string
	conv   jetstream.KeyValue
	part   jetstream.KeyValue
	open   jetstream.KeyValue
}

// waitLimit bounds the harness's waits for a condition (an owner, a state, events). It is no
// measure of speed: a condition met returns at once, and on a 2-core machine shared with other
// builds, with the race detector and every parallel test running its own NATS server, a
// command's round trip through JetStream and the actor has taken over 5 s.
const waitLimit = 30 * time.Second

// testSettings make every timer short so tests take about a second. The lease is the
// exception: an owner renews it every quarter of its TTL and loses it when a renewal takes
// longer than the rest, which at 600 ms a loaded 2-core machine running the race detector did
// (TestFailover and the rating takeover test saw their owner lose every partition mid-test);
// 2 s keeps takeovers quick and the owner steady.
func testSettings() Settings {
	return Settings{Partitions: 4, LeaseTTL: 2 * time.Second, Tick: 20 * time.Millisecond,
		Coalesce: 50 * time.Millisecond, Grace: time.Second, PresenceTTL: 200 * time.Millisecond}
}

func newEnv(t testing.TB, ten *fd.Tenant) *env {
	t.Helper()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	v := &env{t: t, srv: srv, nc: nc, js: js, tenant: ten.GetId()}
	ctx := t.Context()
	var err error
	kv := func(name string) jetstream.KeyValue {
		b, e := js.KeyValue(ctx, name)
		if e != nil {
			t.Fatal(e)
		}
		return b
	}
	v.conv, v.part, v.open = kv(subjects.BucketConversations), kv(subjects.BucketParticipants), kv(subjects.BucketOpen)
	if err = tenants.Seed(ctx, kv(subjects.BucketTenants), []*fd.Tenant{ten}); err != nil {
		t.Fatal(err)
	}
	return v
}

// replica is one running dispatcher with its own connection.
type replica struct {
	e      *Engine
	reg    *prometheus.Registry
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

func (v *env) start(name string, set Settings) *replica {
	v.t.Helper()
	nc, js := testkit.Connect(v.t, v.srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		v.t.Fatal(err)
	}
	store, err := tenants.Watch(ctx, kv, testkit.Logger(v.t))
	if err != nil {
		v.t.Fatal(err)
	}
	set.Instance = name
	reg := prometheus.NewRegistry()
	e, err := New(ctx, nc, js, store, set, testkit.Logger(v.t).Named(name), reg)
	if err != nil {
		v.t.Fatal(err)
	}
	r := &replica{e: e, reg: reg, nc: nc, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	v.t.Cleanup(func() { r.stop() })
	return r
}

func (r *replica) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

// kill stops a replica abruptly: the connection goes first, so nothing is flushed or
// released, as with kill -9.
func (r *replica) kill() {
	r.nc.Close()
	r.stop()
}

func (v *env) waitOwner(rs ...*replica) *replica {
	v.t.Helper()
	p := Partition(v.tenant, testSettings().Partitions)
	var owner *replica
	testkit.CheckFor(v.t, waitLimit, 10*time.Millisecond, func() error {
		for _, r := range rs {
			if r.cancel != nil && slices.Contains(r.e.Owned(), p) {
				owner = r
				return nil
			}
		}
		return errors.New("no owner yet")
	})
	// Past the warm-up in which a new replica does not tell customers nobody is online.
	testkit.CheckFor(v.t, waitLimit, 10*time.Millisecond, func() error {
		if time.Since(owner.e.started) < owner.e.set.PresenceTTL {
			return errors.New("warming up")
		}
		return nil
	})
	return owner
}

func (v *env) publish(subject string, c *fd.Command) {
	v.t.Helper()
	c.Tenant = v.tenant
	if c.At == nil {
		c.At = timestamppb.Now()
	}
	data, _ := proto.Marshal(c)
	msg := nats.NewMsg(subject)
	msg.Data = data
	if _, err := v.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(c.GetId())); err != nil {
		v.t.Errorf("publish command: %v", err)
	}
}

func customer(id string) *fd.Participant {
	return &fd.Participant{Id: id, Role: frames.RoleCustomer, Name: "Customer " + id}
}

func agentP(id string) *fd.Participant {
	return &fd.Participant{Id: id, Role: frames.RoleAgent, Name: "Agent " + id}
}

// openConv does what the gateway does when a customer opens a conversation: the KV records,
// then the open command.
func (v *env) openConv(conv, cust, state string, prio int32, skills ...string) {
	v.t.Helper()
	now := timestamppb.Now()
	c := &fd.Conversation{Tenant: v.tenant, Conv: conv, State: state, Customer: customer(cust),
		Priority: prio, Skills: skills, OpenedAt: now}
	if state == frames.StateQueued {
		c.QueuedAt = now
	}
	data, _ := proto.Marshal(c)
	ctx := context.Background()
	if _, err := v.conv.Create(ctx, subjects.ConversationKey(v.tenant, conv), data); err != nil {
		v.t.Errorf("create conversation: %v", err)
	}
	pdata, _ := proto.Marshal(customer(cust))
	_, _ = v.part.Put(ctx, subjects.ParticipantKey(v.tenant, cust, conv), pdata)
	_, _ = v.open.Create(ctx, subjects.OpenKey(v.tenant, cust), []byte(conv))
	v.publish(subjects.ConvCommands(v.tenant, conv), &fd.Command{Id: "open-" + conv, Conv: conv, Type: frames.CommandOpen,
		Actor: customer(cust), Customer: customer(cust), Priority: prio, Skills: skills})
}

func (v *env) convCmd(typ, conv string, actor *fd.Participant, fill func(*fd.Command)) {
	v.t.Helper()
	c := &fd.Command{Id: fmt.Sprintf("%s-%s-%d", typ, conv, time.Now().UnixNano()), Conv: conv, Type: typ, Actor: actor}
	if fill != nil {
		fill(c)
	}
	v.publish(subjects.ConvCommands(v.tenant, conv), c)
}

func (v *env) status(agent, status string) {
	v.t.Helper()
	v.publish(subjects.AgentCommands(v.tenant, agent), &fd.Command{Id: fmt.Sprintf("status-%s-%d", agent, time.Now().UnixNano()),
		Type: frames.CommandStatus, Status: status, Actor: agentP(agent)})
}

// online heartbeats a session for agent until the returned stop is called. goodbye says
// whether stop sends online=false (a clean disconnect) or just goes silent (a dead gateway).
func (v *env) online(agent, session string, maxChats int32, skills ...string) (stop func(goodbye bool)) {
	hb := func(on bool) {
		p := &fd.SessionPresence{Tenant: v.tenant, User: agent, Session: session, Role: frames.RoleAgent,
			Name: "Agent " + agent, Skills: skills, MaxChats: maxChats, Online: on, TtlS: 1, At: timestamppb.Now()}
		data, _ := proto.Marshal(p)
		_ = v.nc.Publish(subjects.Presence(v.tenant, agent), data)
	}
	hb(true)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				hb(true)
			}
		}
	})
	var once sync.Once
	stop = func(goodbye bool) {
		once.Do(func() {
			close(quit)
			wg.Wait()
			if goodbye {
				hb(false)
			}
		})
	}
	v.t.Cleanup(func() { stop(false) })
	return stop
}

// overview subscribes to the tenant's queue overview and returns a wait for a presence frame
// with the given numbers of routable agents and waiting conversations.
func (v *env) overview() func(avail, qlen int32) {
	v.t.Helper()
	seen := make(chan *fd.ServerFrame, 256)
	sub, err := v.nc.Subscribe(subjects.Overview(v.tenant), func(m *nats.Msg) {
		f := &fd.ServerFrame{}
		if proto.Unmarshal(m.Data, f) == nil {
			select {
			case seen <- f:
			default: // the test stopped reading
			}
		}
	})
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = sub.Unsubscribe() })
	_ = v.nc.Flush()
	return func(avail, qlen int32) {
		v.t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case f := <-seen:
				if f.GetType() == frames.TypePresence && f.GetAgentsAvailable() == avail && f.GetQueueLength() == qlen {
					return
				}
			case <-deadline:
				v.t.Fatalf("no overview with %d available, %d queued", avail, qlen)
			}
		}
	}
}

// inbox collects the frames sent to one user.
type inbox struct {
	mu     sync.Mutex
	frames []*fd.ServerFrame
}

func (v *env) inbox(user string) *inbox {
	v.t.Helper()
	in := &inbox{}
	sub, err := v.nc.Subscribe(subjects.User(v.tenant, user), func(m *nats.Msg) {
		f := &fd.ServerFrame{}
		if proto.Unmarshal(m.Data, f) == nil {
			in.mu.Lock()
			in.frames = append(in.frames, f)
			in.mu.Unlock()
		}
	})
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = sub.Unsubscribe() })
	_ = v.nc.Flush()
	return in
}

func (in *inbox) last(typ string) *fd.ServerFrame {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := len(in.frames) - 1; i >= 0; i-- {
		if in.frames[i].GetType() == typ {
			return in.frames[i]
		}
	}
	return nil
}

func (in *inbox) all(typ string) []*fd.ServerFrame {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []*fd.ServerFrame
	for _, f := range in.frames {
		if f.GetType() == typ {
			out = append(out, f)
		}
	}
	return out
}

// wantPosition waits until the last queued frame says pos.
func (in *inbox) wantPosition(t *testing.T, conv string, pos int32) {
	t.Helper()
	testkit.CheckFor(t, waitLimit, 10*time.Millisecond, func() error {
		f := in.last(frames.TypeQueued)
		if f == nil || f.GetConv() != conv || f.GetPosition() != pos {
			return fmt.Errorf("%s: last queued frame %v, want position %d", conv, f, pos)
		}
		return nil
	})
}

func (v *env) get(conv string) *fd.Conversation {
	v.t.Helper()
	e, err := v.conv.Get(context.Background(), subjects.ConversationKey(v.tenant, conv))
	if err != nil {
		v.t.Fatalf("get %s: %v", conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		v.t.Fatal(err)
	}
	return c
}

func (v *env) wantState(conv, state, agent string) {
	v.t.Helper()
	testkit.CheckFor(v.t, waitLimit, 10*time.Millisecond, func() error {
		c := v.get(conv)
		if c.GetState() != state || c.GetAgent().GetId() != agent {
			return fmt.Errorf("%s is %s/%q, want %s/%q", conv, c.GetState(), c.GetAgent().GetId(), state, agent)
		}
		return nil
	})
}

// events reads every stored lifecycle event in stream order.
func (v *env) events() []*fd.ConversationEvent {
	v.t.Helper()
	ctx := context.Background()
	s, err := v.js.Stream(ctx, subjects.StreamEvents)
	if err != nil {
		v.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	var out []*fd.ConversationEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) == nil {
			out = append(out, ev)
		}
	}
	return out
}

func (v *env) eventsOf(conv, typ string) []*fd.ConversationEvent {
	var out []*fd.ConversationEvent
	for _, ev := range v.events() {
		if ev.GetConv() == conv && (typ == "" || ev.GetType() == typ) {
			out = append(out, ev)
		}
	}
	return out
}

// baseTenant is a tenant with the bot off (conversations open queued), two queues and a one
// second grace period.
func baseTenant(id string) *fd.Tenant {
	return &fd.Tenant{Id: id, Name: id, AllowedOrigins: []string{"http://localhost:*"},
		Queues:  []*fd.Queue{{Name: "general"}, {Name: "billing", Skills: []string{"billing"}}},
		Routing: &fd.Routing{Policy: "least_busy"}, AgentOfflineGraceS: 1}
}

// wantEvents waits until conv has n stored events of type typ and returns them.
func (v *env) wantEvents(conv, typ string, n int) []*fd.ConversationEvent {
	v.t.Helper()
	var evs []*fd.ConversationEvent
	testkit.CheckFor(v.t, waitLimit, 10*time.Millisecond, func() error {
		evs = v.eventsOf(conv, typ)
		if len(evs) != n {
			return fmt.Errorf("%s has %d %s events, want %d", conv, len(evs), typ, n)
		}
		return nil
	})
	return evs
}

// workers runs a test's helper goroutines (agents handling and closing conversations, started
// from subscription callbacks): none starts once the test ends, and the test's cleanup waits
// for those running, so none outlives the test.
type workers struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func newWorkers(t testing.TB) *workers {
	w := &workers{}
	t.Cleanup(w.stop)
	return w
}

// Go runs fn on a goroutine unless the test ended.
func (w *workers) Go(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.wg.Go(fn)
	}
}

func (w *workers) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.wg.Wait()
}

// refuseEvents takes the conversations' events subject off FD_EVENTS (the stream keeps what it
// holds): the owner's lifecycle events are refused from now on and wait in its outbox, while
// the conversations' keys still commit. testkit.Provision puts the subject back.
func (v *env) refuseEvents() {
	v.t.Helper()
	ctx := context.Background()
	s, err := v.js.Stream(ctx, subjects.StreamEvents)
	if err != nil {
		v.t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Subjects = slices.DeleteFunc(slices.Clone(cfg.Subjects), func(s string) bool { return s == subjects.AllEvents() })
	if _, err := v.js.UpdateStream(ctx, cfg); err != nil {
		v.t.Fatal(err)
	}
}

// waitEventsWaiting waits until r holds at least one of the tenant's events in its outbox.
func (v *env) waitEventsWaiting(r *replica) {
	v.t.Helper()
	testkit.CheckFor(v.t, waitLimit, 10*time.Millisecond, func() error {
		if n := testutil.ToFloat64(r.e.m.waiting.WithLabelValues(v.tenant)); n < 1 {
			return fmt.Errorf("%v events waiting", n)
		}
		return nil
	})
}
