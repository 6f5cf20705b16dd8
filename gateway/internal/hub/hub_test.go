package hub_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

type rec struct {
	mu sync.Mutex
	d  []*hub.Delivery
}

func (r *rec) Deliver(d *hub.Delivery) { r.mu.Lock(); r.d = append(r.d, d); r.mu.Unlock() }
func (r *rec) n() int                  { r.mu.Lock(); defer r.mu.Unlock(); return len(r.d) }

// TestSharedSubscription: listeners of one subject share one NATS subscription, get every
// message once each (the same decoded delivery), and the last one to leave unsubscribes.
func TestSharedSubscription(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	h := newHub(t, nc, hub.Options{Workers: 2})
	subj := subjects.User("acme", "u1")
	base := nc.NumSubscriptions() // the request/reply inbox of the provisioning requests
	a, b := &rec{}, &rec{}
	for _, l := range []*rec{a, b} {
		if err := h.Subscribe(hub.User, subj, "", l); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := nc.NumSubscriptions() - base; got != 1 {
		t.Fatalf("NATS subscriptions = %d, want 1", got)
	}
	data, _ := proto.Marshal(&fd.ServerFrame{Type: "queued", Conv: "c1"})
	for range 3 {
		_ = nc.Publish(subj, data)
	}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if a.n() != 3 || b.n() != 3 {
			return errorf("a=%d b=%d", a.n(), b.n())
		}
		return nil
	})
	if a.d[0] != b.d[0] || a.d[0].Frame.GetType() != "queued" || string(a.d[0].Encoded(false)) != `{"type":"queued","conv":"c1"}` {
		t.Fatalf("delivery = %+v", a.d[0])
	}
	h.Unsubscribe(subj, a)
	if !h.Subscribed(subj) {
		t.Fatal("unsubscribed while b listens")
	}
	h.Unsubscribe(subj, b)
	if h.Subscribed(subj) || nc.NumSubscriptions() != base {
		t.Fatalf("still subscribed: %v %d", h.Subscribed(subj), nc.NumSubscriptions())
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// gate is a listener that records conversation messages and can block its hub worker, which
// makes NATS drop what the worker's channel cannot hold (a slow consumer).
type gate struct {
	rec
	block chan struct{}
}

func (g *gate) Deliver(d *hub.Delivery) {
	if g.block != nil {
		<-g.block
		g.block = nil
	}
	g.rec.Deliver(d)
}

// newHub is a hub over nc with opts and metrics of its own, closed when the test ends.
func newHub(t *testing.T, nc *nats.Conn, opts hub.Options) *hub.Hub {
	t.Helper()
	return newHubWith(t, nc, metrics.New(prometheus.NewRegistry()), opts)
}

// newHubWith is newHub with the metrics m, for a test that reads them.
func newHubWith(t *testing.T, nc *nats.Conn, m *metrics.Metrics, opts hub.Options) *hub.Hub {
	t.Helper()
	h, err := hub.New(nc, testkit.Logger(t), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func (r *rec) seqs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, 0, len(r.d))
	for _, d := range r.d {
		out = append(out, d.Seq)
	}
	return out
}

// TestConversationDelivery: a conversation is followed with one core subscription on its
// deliver subject (no JetStream consumer); messages stored before Subscribe are not delivered,
// those after are, with their stream sequences; messages dropped by NATS (a slow listener) are
// read from the stream, found by the next message's previous sequence or, when nothing follows
// them (the tail of a burst), by Watch seeing the subscription's drop count; everything
// arrives once, in order.
func TestConversationDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after bool // a message follows the burst once the listener reads again
	}{
		{"the next message reveals the gap", true},
		{"a dropped tail is filled without a next message", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testConversationDelivery(t, tc.after)
		})
	}
}

func testConversationDelivery(t *testing.T, after bool) {
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	store := func(conv, text string) int64 {
		t.Helper()
		b, _ := proto.Marshal(&fd.Message{Id: text, Tenant: "acme", Conv: conv, Text: text})
		ack, err := js.Publish(ctx, subjects.Messages("acme", conv), b)
		if err != nil {
			t.Fatal(err)
		}
		return int64(ack.Sequence)
	}
	// One worker with room for one message: while the listener blocks, NATS drops the rest.
	m := metrics.New(prometheus.NewRegistry())
	h := newHubWith(t, nc, m, hub.Options{Workers: 1, Buffer: 1})
	// As the gateway runs it: besides reconnects, Watch finds subscriptions that dropped.
	var watching sync.WaitGroup
	wctx, stopWatch := context.WithCancel(ctx)
	watching.Go(func() { h.Watch(wctx, 20*time.Millisecond) })
	t.Cleanup(func() { stopWatch(); watching.Wait() })
	store("c1", "before")
	store("other", "elsewhere")
	l := &gate{block: make(chan struct{})}
	if err := h.Subscribe(hub.Messages, subjects.Deliver("acme", "c1"), "c1", l); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.CachedInfo().State.Consumers; c != 0 {
		t.Fatalf("stream consumers = %d, want 0", c)
	}
	var want []int64
	for i := range 20 {
		want = append(want, store("c1", fmt.Sprint("m", i)))
		store("other", "noise")
	}
	close(l.block)
	last := "m19"
	if after {
		want = append(want, store("c1", "after the gap"))
		last = "after the gap"
	}
	testkit.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := l.seqs(); fmt.Sprint(got) != fmt.Sprint(want) {
			return errorf("delivered %v, want %v", got, want)
		}
		return nil
	})
	if l.d[len(l.d)-1].Message.GetText() != last || l.d[0].Message.GetText() != "m0" || l.d[0].Conv != "c1" {
		t.Fatalf("deliveries %v ... %v", l.d[0].Message, l.d[len(l.d)-1].Message)
	}
	if testutil.ToFloat64(m.Drops.WithLabelValues("gap")) == 0 {
		t.Fatal("no gap detected: the test dropped nothing")
	}
	// The gap fill's consumer is gone once it is done.
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		si, err := js.Stream(ctx, subjects.StreamMessages)
		if err != nil {
			return err
		}
		if c := si.CachedInfo().State.Consumers; c != 0 {
			return errorf("stream consumers = %d, want 0", c)
		}
		return nil
	})
}

// TestReconnectFillsGap: messages stored while the gateway was cut off from NATS were
// republished to nobody; after the reconnect the hub reads them from the stream without waiting
// for the conversation's next message.
func TestReconnectFillsGap(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	_, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	// The hub's connection comes back a while after the server, so messages can be stored in
	// between.
	nc, err := nats.Connect(n.URL(), nats.ReconnectWait(time.Second), nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(int) time.Duration { return time.Second }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h := newHub(t, nc, hub.Options{})
	go h.Watch(t.Context(), 20*time.Millisecond)
	l := &rec{}
	if err := h.Subscribe(hub.Messages, subjects.Deliver("acme", "c1"), "c1", l); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	store := func(js jetstream.JetStream, text string) int64 {
		t.Helper()
		b, _ := proto.Marshal(&fd.Message{Id: text, Text: text})
		ack, err := js.Publish(ctx, subjects.Messages("acme", "c1"), b)
		if err != nil {
			t.Fatal(err)
		}
		return int64(ack.Sequence)
	}
	want := []int64{store(js, "live")}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if l.n() != 1 {
			return errorf("delivered %d", l.n())
		}
		return nil
	})
	n.Restart(t)
	_, js2 := testkit.Connect(t, n.URL())
	want = append(want, store(js2, "while away 1"), store(js2, "while away 2"))
	if nc.IsConnected() {
		t.Skip("the hub reconnected before the messages were stored")
	}
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := l.seqs(); fmt.Sprint(got) != fmt.Sprint(want) {
			return errorf("delivered %v, want %v", got, want)
		}
		return nil
	})
}

// agents returns the agents_available of each overview r received, in order.
func (r *rec) agents() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.d))
	for _, d := range r.d {
		out = append(out, d.Frame.GetAgentsAvailable())
	}
	return out
}

// TestOverviewLatest: a listener that joins a followed overview subject gets the latest
// overview at once, before Subscribe returns; one that joins after every listener left does
// not get the one from before (the hub stopped hearing the subject, so it may be stale).
func TestOverviewLatest(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	h := newHub(t, nc, hub.Options{Workers: 2})
	subj := subjects.Overview("acme")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	publish := func(agents int32) {
		t.Helper()
		data, _ := proto.Marshal(&fd.ServerFrame{Type: "presence", AgentsAvailable: proto.Int32(agents)})
		if err := nc.Publish(subj, data); err != nil {
			t.Fatal(err)
		}
	}
	want := func(r *rec, agents ...int32) {
		t.Helper()
		testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if got := r.agents(); fmt.Sprint(got) != fmt.Sprint(agents) {
				return errorf("overviews %v, want %v", got, agents)
			}
			return nil
		})
	}
	a := &rec{}
	if err := h.Subscribe(hub.Overview, subj, "", a); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	publish(1)
	publish(2)
	want(a, 1, 2)

	b := &rec{}
	if err := h.Subscribe(hub.Overview, subj, "", b); err != nil {
		t.Fatal(err)
	}
	if got := b.agents(); fmt.Sprint(got) != "[2]" {
		t.Fatalf("a joining listener got %v, want the latest [2] at once", got)
	}
	publish(3)
	want(a, 1, 2, 3)
	want(b, 2, 3)

	h.Unsubscribe(subj, a)
	h.Unsubscribe(subj, b)
	if h.Subscribed(subj) {
		t.Fatal("still subscribed")
	}
	publish(4) // nobody listens: missed
	c := &rec{}
	if err := h.Subscribe(hub.Overview, subj, "", c); err != nil {
		t.Fatal(err)
	}
	if got := c.agents(); len(got) != 0 {
		t.Fatalf("a listener after everyone left got %v, want nothing (3 is stale)", got)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	publish(5)
	want(c, 5)
}

// TestOverviewJoinRace: listeners join while overviews are published; each gets every
// overview at most once, in order, the last one last, whether it came live or as the latest.
func TestOverviewJoinRace(t *testing.T) {
	t.Parallel()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	h := newHub(t, nc, hub.Options{Workers: 2})
	subj := subjects.Overview("acme")
	first := &rec{} // keeps the subject followed throughout
	if err := h.Subscribe(hub.Overview, subj, "", first); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	const overviews, joiners = 2000, 4
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range int32(overviews) {
			data, _ := proto.Marshal(&fd.ServerFrame{Type: "presence", AgentsAvailable: proto.Int32(i + 1)})
			_ = nc.Publish(subj, data)
			if i%100 == 0 {
				_ = nc.Flush() // paced, so the joiners overlap the whole run
			}
		}
	}()
	var (
		mu sync.Mutex
		ls []*rec
		wg sync.WaitGroup
	)
	// Each joiner joins a new listener every `every` overviews the first listener got, so the
	// joins overlap the whole run while their number stays bounded (every overview goes to every
	// listener: unbounded joins made millions of deliveries, which a loaded machine could not
	// finish in time).
	const every = 25
	for range joiners {
		wg.Go(func() {
			seen := -every
			for {
				select {
				case <-done:
					return
				default:
				}
				if first.n() < seen+every {
					runtime.Gosched()
					continue
				}
				seen = first.n()
				l := &rec{}
				if err := h.Subscribe(hub.Overview, subj, "", l); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ls = append(ls, l)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d listeners joined", len(ls))
	for i, l := range append(ls, first) {
		testkit.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
			got := l.agents()
			if len(got) == 0 || got[len(got)-1] != overviews {
				return errorf("listener %d: last overview of %d is not %d", i, len(got), overviews)
			}
			return nil
		})
		got := l.agents()
		for j := 1; j < len(got); j++ {
			if got[j] <= got[j-1] {
				t.Fatalf("listener %d got overview %d after %d", i, got[j], got[j-1])
			}
		}
	}
	if got := first.agents(); len(got) != overviews {
		t.Fatalf("the first listener got %d overviews, want %d", len(got), overviews)
	}
}
