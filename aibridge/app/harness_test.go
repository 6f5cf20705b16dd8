package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
)

const wait = 15 * time.Second

// demoKnowledge is the sample knowledge base make run ships.
var demoKnowledge = filepath.Join("..", "..", "deploy", "local", "demo", "knowledge")

// harness is one NATS server with the topology, a running AI bridge and a client for the test.
type harness struct {
	t    testing.TB
	nats *testkit.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
	conv jetstream.KeyValue
	ten  jetstream.KeyValue
	svc  *app.Service
	n    atomic.Int64
	// stop cancels the service and returns Run's error (once; later calls return the same).
	stop func() error
}

type options struct {
	natsURL   string // service's URL (credentials), default the server's
	configure func(*app.Config)
	env       map[string]string
}

// newHarness starts NATS, seeds tenant, and runs the bridge until the test ends.
func newHarness(t testing.TB, tenant *fd.Tenant, o options) *harness {
	t.Helper()
	n := testkit.RunNATS(t)
	return startHarness(t, n, n.URL(), tenant, o)
}

func startHarness(t testing.TB, n *testkit.NATS, clientURL string, tenant *fd.Tenant, o options) *harness {
	t.Helper()
	h := &harness{t: t, nats: n}
	h.nc, h.js = testkit.Connect(t, clientURL)
	testkit.Provision(t, h.js)
	ctx := context.Background()
	var err error
	if h.conv, err = h.js.KeyValue(ctx, subjects.BucketConversations); err != nil {
		t.Fatal(err)
	}
	if h.ten, err = h.js.KeyValue(ctx, subjects.BucketTenants); err != nil {
		t.Fatal(err)
	}
	if tenant != nil {
		h.putTenant(tenant)
	}

	cfg := app.DefaultConfig()
	cfg.NATS.URL = n.URL()
	if o.natsURL != "" {
		cfg.NATS.URL = o.natsURL
	}
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Log.Level = "debug"
	cfg.Shutdown.Timeout = 5 * time.Second
	cfg.AIBridge.PartialInterval = time.Millisecond
	cfg.AIBridge.ModelBackoff = 10 * time.Millisecond
	cfg.AIBridge.FirstTokenTimeout = 2 * time.Second
	cfg.AIBridge.KnowledgePoll = 50 * time.Millisecond
	if o.configure != nil {
		o.configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return o.env[k] }
	runCtx, cancel := context.WithCancel(context.Background())
	h.svc, err = app.New(runCtx, cfg, testkit.Logger(t), app.WithGetenv(env))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(runCtx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	var byTest atomic.Bool
	h.stop = func() error { byTest.Store(true); return stop() }
	t.Cleanup(func() {
		// A test that stops the service itself checks the result.
		if err := stop(); err != nil && !byTest.Load() {
			t.Errorf("service run: %v", err)
		}
	})
	testkit.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if v := h.counter("frontdesk_aibridge_messages_total"); v < 0 {
			return errors.New("metrics not registered")
		}
		return h.ready()
	})
	return h
}

// ready asks the ops server's /readyz.
func (h *harness) ready() error {
	resp, err := http.Get("http://" + h.svc.Addr() + "/readyz")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
	}
	return nil
}

func (h *harness) putTenant(t *fd.Tenant) {
	h.t.Helper()
	data, err := tenants.Marshal(t)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.ten.Put(context.Background(), t.GetId(), data); err != nil {
		h.t.Fatal(err)
	}
}

// openConversation creates a conversation as the gateway does and returns its revision.
func (h *harness) openConversation(tenant, conv, state string) uint64 {
	h.t.Helper()
	c := &fd.Conversation{Tenant: tenant, Conv: conv, State: state,
		Customer: &fd.Participant{Id: "cust-" + conv, Role: frames.RoleCustomer, Name: "Ada"},
		OpenedAt: timestamppb.Now()}
	data, _ := proto.Marshal(c)
	rev, err := h.conv.Create(context.Background(), subjects.ConversationKey(tenant, conv), data)
	if err != nil {
		h.t.Fatal(err)
	}
	return rev
}

// setState changes a conversation as the dispatcher does (Update with the read revision).
func (h *harness) setState(tenant, conv, state, agent string) uint64 {
	h.t.Helper()
	ctx := context.Background()
	key := subjects.ConversationKey(tenant, conv)
	e, err := h.conv.Get(ctx, key)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		h.t.Fatal(err)
	}
	c.State = state
	if agent != "" {
		c.Agent = &fd.Participant{Id: agent, Role: frames.RoleAgent, Name: "Agent " + agent}
	}
	data, _ := proto.Marshal(c)
	rev, err := h.conv.Update(ctx, key, data, e.Revision())
	if err != nil {
		h.t.Fatal(err)
	}
	return rev
}

// say publishes a message as the gateway does and returns it.
func (h *harness) say(tenant, conv, role, user, text string) *fd.Message {
	h.t.Helper()
	i := h.n.Add(1)
	m := &fd.Message{Id: fmt.Sprintf("m_test%d", i), ClientId: fmt.Sprintf("c%d", i), Tenant: tenant, Conv: conv,
		From: &fd.Participant{Id: user, Role: role}, Kind: frames.KindText, Text: text, CreatedAt: timestamppb.Now()}
	data, _ := proto.Marshal(m)
	msg := &nats.Msg{Subject: subjects.Messages(tenant, conv), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, subjects.DedupID(tenant, user, m.ClientId))
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) customer(tenant, conv, text string) *fd.Message {
	return h.say(tenant, conv, frames.RoleCustomer, "cust-"+conv, text)
}

type stored struct {
	seq    uint64
	msg    *fd.Message
	header nats.Header
}

// messages returns what the messages stream holds for a conversation.
func (h *harness) messages(tenant, conv string) []stored {
	h.t.Helper()
	var out []stored
	for _, raw := range h.read(subjects.StreamMessages, subjects.Messages(tenant, conv)) {
		m := &fd.Message{}
		if err := proto.Unmarshal(raw.Data, m); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, stored{seq: raw.Sequence, msg: m, header: raw.Header})
	}
	return out
}

func (h *harness) botMessages(tenant, conv string) []stored {
	var out []stored
	for _, s := range h.messages(tenant, conv) {
		if s.msg.GetFrom().GetRole() == frames.RoleBot {
			out = append(out, s)
		}
	}
	return out
}

// commands returns the commands stored for a conversation.
func (h *harness) commands(tenant, conv string) []*fd.Command {
	h.t.Helper()
	var out []*fd.Command
	for _, raw := range h.read(subjects.StreamCommands, subjects.ConvCommands(tenant, conv)) {
		c := &fd.Command{}
		if err := proto.Unmarshal(raw.Data, c); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// read returns every message of subject in stream, oldest first.
func (h *harness) read(stream, subject string) []*jetstream.RawStreamMsg {
	h.t.Helper()
	ctx := context.Background()
	st, err := h.js.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, raw)
		seq = raw.Sequence + 1
	}
}

// live collects the frames published on a conversation's live subject.
type live struct {
	mu     sync.Mutex
	frames []*fd.ServerFrame
}

func (h *harness) watchLive(tenant, conv string) *live {
	h.t.Helper()
	l := &live{}
	sub, err := h.nc.Subscribe(subjects.Live(tenant, conv), func(m *nats.Msg) {
		f := &fd.ServerFrame{}
		if err := proto.Unmarshal(m.Data, f); err != nil {
			h.t.Errorf("live frame: %v", err)
			return
		}
		l.mu.Lock()
		l.frames = append(l.frames, f)
		l.mu.Unlock()
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return l
}

func (l *live) all() []*fd.ServerFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*fd.ServerFrame(nil), l.frames...)
}

// counter sums a counter family's values whose labels contain every label pair of want
// ("outcome=answered"); -1 when the family is missing.
func (h *harness) counter(name string, want ...string) float64 {
	mfs, err := h.svc.Registry().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
	metric:
		for _, m := range mf.GetMetric() {
			for _, w := range want {
				k, v, _ := strings.Cut(w, "=")
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
		return sum
	}
	return 0
}

// waitCounter waits until a counter reaches at least v.
func (h *harness) waitCounter(v float64, name string, labels ...string) {
	h.t.Helper()
	testkit.CheckFor(h.t, wait, 10*time.Millisecond, func() error {
		if got := h.counter(name, labels...); got < v {
			return fmt.Errorf("%s%v = %v, want %v", name, labels, got, v)
		}
		return nil
	})
}
