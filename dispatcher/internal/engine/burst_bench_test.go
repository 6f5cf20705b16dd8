package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// BenchmarkBurstNATS measures the burst of issue 18 through a real JetStream server: b.N
// customers talking to the bot ask for a human at once (b.N handoff commands published
// together, as many gateways would), with enough free agents for all of them. Each customer
// costs the dispatcher a read of the conversation, its move to the queue (compare-and-set,
// queue record, queued event, position frame) and its assignment (compare-and-set, event,
// participant key, agent frame). Timed from the first handoff published to the last assigned
// event stored; the latency of one customer is from its handoff's publish to its assigned
// event. Run with a fixed count:
//
//	go test -run '^$' -bench BurstNATS -benchtime 9000x ./internal/engine
func BenchmarkBurstNATS(b *testing.B) {
	const agents = 100
	v := newEnv(b, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", benchSettings()))
	n := b.N
	convs := benchConvs(n)
	bulkConversations(b, v, convs, frames.StateBot)

	sent := make([]atomic.Int64, n)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	done := make(chan struct{})
	onEvents(b, v, func(ev *fd.ConversationEvent) {
		if ev.GetType() != frames.EventAssigned {
			return
		}
		var i int
		if _, err := fmt.Sscanf(ev.GetConv(), "c%d", &i); err != nil || i >= n {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, time.Duration(time.Now().UnixNano()-sent[i].Load()))
		if len(lat) == n {
			close(done)
		}
	})
	agentsOnline(b, v, r, agents, int32(n/agents+1), true)

	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for i, conv := range convs {
		c := &fd.Command{Id: "handoff-" + conv, Tenant: "acme", Conv: conv, Type: frames.CommandHandoff,
			Actor: customer(fmt.Sprint("u", i)), At: timestamppb.Now()}
		data, _ := proto.Marshal(c)
		msg := nats.NewMsg(subjects.ConvCommands("acme", conv))
		msg.Data = data
		sent[i].Store(time.Now().UnixNano())
		if _, err := v.js.PublishMsgAsync(msg, jetstream.WithMsgID(c.GetId())); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			// Within the client's limit of outstanding asynchronous publishes.
			select {
			case <-v.js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("handoffs not stored")
			}
		}
	}
	select {
	case <-v.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("handoffs not stored")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		mu.Lock()
		b.Fatalf("%d of %d assigned", len(lat), n)
	}
	b.StopTimer()
	took := time.Since(start)
	mu.Lock()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(n)/took.Seconds(), "assignments/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Microsecond)/float64(n), "cpu-µs/assignment")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	mu.Unlock()
}

// benchSettings are the test settings with the production lease TTL and grace period: on
// a loaded machine the tests' 600 ms lease and 1 s grace make a run measure takeovers and
// re-queues instead of assignment.
func benchSettings() Settings {
	s := testSettings()
	s.LeaseTTL, s.Grace = 3*time.Second, 30*time.Second
	return s
}

// bulkConversations creates conversations in state as the gateway does (record and
// participant key; the open command only for queued ones: for a bot conversation it changes
// nothing in the dispatcher). The writes are pipelined a chunk at a time, with one wait for
// the chunk's acknowledgements: one round trip each made the setup of a 100,000-customer
// line minutes long. A chunk's open commands go out after its records are stored, as a
// gateway's do.
func bulkConversations(b testing.TB, v *env, convs []string, state string) {
	b.Helper()
	const chunk = 1000 // within the client's limit of outstanding asynchronous publishes
	for lo := 0; lo < len(convs); lo += chunk {
		hi := min(lo+chunk, len(convs))
		var futs []jetstream.PubAckFuture
		publish := func(subject string, m proto.Message, opts ...jetstream.PublishOpt) {
			data, err := proto.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			msg := nats.NewMsg(subject)
			msg.Data = data
			fut, err := v.js.PublishMsgAsync(msg, opts...)
			if err != nil {
				b.Fatalf("publish %s: %v", subject, err)
			}
			futs = append(futs, fut)
		}
		for i := lo; i < hi; i++ {
			cust := fmt.Sprint("u", i)
			c := &fd.Conversation{Tenant: v.tenant, Conv: convs[i], State: state, Customer: customer(cust),
				OpenedAt: timestamppb.Now()}
			if state == frames.StateQueued {
				c.QueuedAt = c.OpenedAt
			}
			// Create: the key must not exist yet (what KeyValue.Create expects).
			publish(subjects.KVPut(subjects.BucketConversations, subjects.ConversationKey(v.tenant, convs[i])), c,
				jetstream.WithExpectLastSequencePerSubject(0))
			publish(subjects.KVPut(subjects.BucketParticipants, subjects.ParticipantKey(v.tenant, cust, convs[i])), customer(cust))
		}
		stored(b, futs)
		if state != frames.StateQueued {
			continue
		}
		futs = futs[:0]
		for i := lo; i < hi; i++ {
			cust := fmt.Sprint("u", i)
			cmd := &fd.Command{Id: "open-" + convs[i], Tenant: v.tenant, Conv: convs[i], Type: frames.CommandOpen,
				Actor: customer(cust), Customer: customer(cust), At: timestamppb.Now()}
			publish(subjects.ConvCommands(v.tenant, convs[i]), cmd, jetstream.WithMsgID(cmd.GetId()))
		}
		stored(b, futs)
	}
}

// stored waits for the acknowledgements of pipelined publishes and fails on any refusal.
func stored(b testing.TB, futs []jetstream.PubAckFuture) {
	b.Helper()
	deadline := time.After(time.Minute)
	for _, fut := range futs {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			b.Fatalf("setup publish on %s: %v", fut.Msg().Subject, err)
		case <-deadline:
			b.Fatal("setup publishes not acknowledged within a minute")
		}
	}
}

// roomForLine gives the assets a line of 100,000 fills the room it needs within the test
// server's 1 GiB store. With the development shares of 768 MiB the conversations bucket
// (5 %, history 5: the record, its queued and its assigned revisions) is full at about 90,000
// customers, and the dispatcher then rightly refuses to queue more: the benchmark measured
// retries of full-bucket errors. Messages and attachments, which it does not use, give up
// their room first (the server reserves every cap, so the sum must stay under 1 GiB).
func roomForLine(b testing.TB, v *env) {
	b.Helper()
	ctx := context.Background()
	for _, s := range []struct {
		stream string
		bytes  int64
	}{
		{subjects.StreamMessages, 16 << 20},
		{"OBJ_" + subjects.ObjectAttachments, 16 << 20},
		{"KV_" + subjects.BucketConversations, 192 << 20},
		{subjects.StreamEvents, 256 << 20},
		{subjects.StreamCommands, 64 << 20},
		{"KV_" + subjects.BucketDispatcher, 64 << 20},
		{"KV_" + subjects.BucketParticipants, 64 << 20},
	} {
		st, err := v.js.Stream(ctx, s.stream)
		if err != nil {
			b.Fatalf("stream %s: %v", s.stream, err)
		}
		cfg := st.CachedInfo().Config
		cfg.MaxBytes = s.bytes
		if _, err := v.js.UpdateStream(ctx, cfg); err != nil {
			b.Fatalf("room for the line in %s: %v", s.stream, err)
		}
	}
}

// BenchmarkWaitingNATS measures assignment with a long line through a real JetStream server:
// b.N customers wait (issue 18's steady state: 100,000), then 100 agents with room for all
// of them become available at once. Timed from the agents' status commands to the last
// assigned event stored.
//
//	go test -run '^$' -bench WaitingNATS -benchtime 100000x -timeout 30m ./internal/engine
func BenchmarkWaitingNATS(b *testing.B) {
	benchLine(b, benchSettings(), 100, 20*time.Minute, func(v *env, convs []string) {
		roomForLine(b, v)
		bulkConversations(b, v, convs, frames.StateQueued)
	})
}

// cpuTime is the CPU time the test process (dispatcher, NATS server and clients) has used:
// on a shared machine the wall clock says how much of the machine the run got, the CPU time
// what the work cost.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
