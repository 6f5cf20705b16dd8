package hub_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// tally is a listener that counts conversation messages into a total shared by many listeners
// and closes done when the total reaches want.
type tally struct {
	n    *atomic.Int64
	want int64
	done chan struct{}
}

func (c tally) Deliver(d *hub.Delivery) {
	if d.Kind == hub.Messages && c.n.Add(1) == c.want {
		close(c.done)
	}
}

// outage is a hub connection that can be cut off from NATS while others are not: it reconnects
// only reconnectAfter after its first failed attempt, so a test restarts the server and stores
// messages the hub never sees republished.
type outage struct {
	nats        *testkit.NATS
	nc          *nats.Conn
	reconnected chan time.Time
	failed      atomic.Int64 // reconnect attempts that failed
}

func newOutage(tb testing.TB, n *testkit.NATS, reconnectAfter time.Duration) *outage {
	tb.Helper()
	o := &outage{nats: n, reconnected: make(chan time.Time, 8)}
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.Timeout(2*time.Second),
		nats.CustomReconnectDelay(func(int) time.Duration { return reconnectAfter }),
		nats.ReconnectHandler(func(*nats.Conn) { o.reconnected <- time.Now() }),
		nats.ReconnectErrHandler(func(*nats.Conn, error) { o.failed.Add(1) }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	o.nc = nc
	return o
}

// restart stops the server, waits until the hub's connection has given up its immediate
// reconnect attempt, and starts the server again: the hub stays away for its reconnect delay.
func (o *outage) restart(tb testing.TB) {
	tb.Helper()
	o.nats.Shutdown()
	failed := o.failed.Load()
	testkit.CheckFor(tb, 10*time.Second, 10*time.Millisecond, func() error {
		if o.nc.Status() != nats.RECONNECTING {
			return fmt.Errorf("hub connection %v", o.nc.Status())
		}
		// Past the first attempt, which is immediate: the next waits reconnectAfter.
		if o.failed.Load() == failed {
			return errors.New("no reconnect attempt failed yet")
		}
		return nil
	})
	o.nats.Restart(tb)
}

// follow makes h follow convs conversations of tenant acme named c<i>, a few at a time.
func follow(tb testing.TB, h *hub.Hub, convs int, listener func(i int) hub.Listener) []string {
	tb.Helper()
	ids := make([]string, convs)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, convs)
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < convs; i = int(next.Add(1) - 1) {
				if err := h.Subscribe(hub.Messages, subjects.Deliver("acme", ids[i]), ids[i], listener(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	return ids
}

// storeMany stores count messages, each to a conversation of ids drawn at random (so some get
// several), and returns the sequences stored per conversation, in order.
func storeMany(tb testing.TB, js jetstream.JetStream, ids []string, count int, rng *rand.Rand) map[string][]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string][]int64{}
	for i := 0; i < count; i += 256 {
		type pending struct {
			conv string
			ack  jetstream.PubAckFuture
		}
		var batch []pending
		for range min(256, count-i) {
			conv := ids[rng.IntN(len(ids))]
			b, _ := proto.Marshal(&fd.Message{Id: fmt.Sprint("m", i, conv), Tenant: "acme", Conv: conv, Text: conv})
			a, err := js.PublishAsync(subjects.Messages("acme", conv), b)
			if err != nil {
				tb.Fatal(err)
			}
			batch = append(batch, pending{conv, a})
		}
		for _, p := range batch {
			select {
			case ack := <-p.ack.Ok():
				out[p.conv] = append(out[p.conv], int64(ack.Sequence))
			case err := <-p.ack.Err():
				tb.Fatal(err)
			case <-ctx.Done():
				tb.Fatal(ctx.Err())
			}
		}
	}
	for _, s := range out {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return out
}

// BenchmarkReconnectRecovery: a hub follows 10,000 conversations; NATS restarts and 1,000
// messages are stored to random conversations while the hub is away. Reported: the time from
// the hub's reconnect to the last missed message delivered (ms/recovery) and the messages the
// hub's connection sent meanwhile (requests/recovery).
//
//	go test -run '^$' -bench ReconnectRecovery -benchtime 1x -count 3 ./internal/hub
func BenchmarkReconnectRecovery(b *testing.B) {
	const convs, missed = 10000, 1000
	var took time.Duration
	var requests uint64
	for range b.N {
		b.StopTimer()
		n := testkit.RunNATS(b)
		_, js := testkit.Connect(b, n.URL())
		testkit.Provision(b, js)
		o := newOutage(b, n, 2*time.Second)
		h, err := hub.New(o.nc, testkit.Logger(b), metrics.New(prometheus.NewRegistry()), hub.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go h.Watch(ctx, 10*time.Millisecond)
		var got atomic.Int64
		done := make(chan struct{})
		ids := follow(b, h, convs, func(int) hub.Listener { return tally{n: &got, want: missed, done: done} })

		out := o.nc.Stats().OutMsgs
		o.restart(b)
		_, js2 := testkit.Connect(b, n.URL())
		storeMany(b, js2, ids, missed, rand.New(rand.NewPCG(1, 2)))
		if o.nc.IsConnected() {
			b.Fatal("the hub reconnected before the messages were stored")
		}
		t0 := <-o.reconnected
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("recovered %d of %d messages", got.Load(), missed)
		}
		took += time.Since(t0)
		requests += o.nc.Stats().OutMsgs - out
		cancel()
		h.Close()
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op") // the timer is stopped: setup dwarfs what is measured
	b.ReportMetric(took.Seconds()*1000/float64(b.N), "ms/recovery")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/recovery")
}
