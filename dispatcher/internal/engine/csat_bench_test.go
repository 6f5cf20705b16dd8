package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// BenchmarkTakeoverCsatNATS measures what a takeover spends rebuilding the board's ratings of
// the day (rebuildCsat, csat.go) on a busy day: 20,000 conversations closed today with ten
// events each, half of them rated, so 200,000 events of the tenant in FD_EVENTS (and a
// quieter tenant's beside them, which the server filters out). A first owner takes the tenant
// over with all of them stored and stops; then 200 more conversations close (2,000 events,
// 100 ratings) before the timed takeover. One op is one rebuild of the ratings. Allocations
// and CPU are the whole process's: the in-process NATS server's work is in them. Run once per
// count (every run stores the 200,000 events again):
//
//	go test -run '^$' -bench TakeoverCsatNATS -benchtime 1x -count 3 -timeout 30m ./internal/engine
func BenchmarkTakeoverCsatNATS(b *testing.B) {
	const convs, tail, perConv, others = 20_000, 200, 10, 2_000
	ten := baseTenant("acme")
	ten.Csat = &fd.Csat{Scale: frames.ScaleFive}
	v := newEnv(b, ten)
	now := time.Now()
	if dayStart(now, time.UTC).Add(23 * time.Hour).Before(now) {
		b.Skip("too close to midnight: the day's events would straddle two days")
	}
	want := busyDay(b, v, "acme", 0, convs, now)
	busyDay(b, v, "quiet", 0, others, now)

	// The previous owner: its takeover counts the day so far, it stops (as on a rollout).
	board := v.watchBoard()
	r1 := v.start("r1", benchSettings())
	testkit.CheckFor(b, 5*time.Minute, 50*time.Millisecond, func() error {
		board.mu.Lock()
		defer board.mu.Unlock()
		if c := board.last.GetCsat(); int(c.GetCount()) != want.count {
			return fmt.Errorf("first owner's board counts %d ratings, want %d", c.GetCount(), want.count)
		}
		return nil
	})
	r1.stop()
	now = time.Now() // the last conversations close, and are rated, after the first owner's end
	more := busyDay(b, v, "acme", convs, tail, now)
	want.count, want.sum = want.count+more.count, want.sum+more.sum

	r2 := v.start("r2", benchSettings())
	t := newTenant(r2.e, "acme", Partition("acme", benchSettings().Partitions))
	t.refreshConfig()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		if err := t.rebuildCsat(ctx, now); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if t.csat.total != want {
		b.Fatalf("rebuilt %+v, want %+v", t.csat.total, want)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// busyDay stores the events of n conversations of tenant closed today from the first-th on,
// ten each as the dispatcher publishes them (every other conversation rated, the rest with a
// message left instead), through pipelined publishes, and returns the ratings they make.
func busyDay(b *testing.B, v *env, tenant string, first, n int, now time.Time) csatSum {
	b.Helper()
	var want csatSum
	at := timestamppb.New(now)
	pending := 0
	for i := first; i < first+n; i++ {
		conv := fmt.Sprintf("c%06d", i)
		cust, agent, other := customer(fmt.Sprint("u", i)), agentP(fmt.Sprint("a", i%50)), agentP(fmt.Sprint("a", (i+1)%50))
		rated := i%2 == 0
		var rating *fd.Rating
		types := []string{frames.EventOpened, frames.EventQueued, frames.EventAssigned, frames.EventLabeled, frames.EventSLAAtRisk,
			frames.EventTransferred, frames.EventLabeled, frames.EventClosed, frames.EventTranscriptRequested, frames.EventRated}
		if !rated {
			types[len(types)-1] = frames.EventMessageLeft
		}
		for rev, typ := range types {
			ev := &fd.ConversationEvent{Id: subjects.EventID(tenant, conv, uint64(rev+1), typ), Tenant: tenant, Conv: conv,
				Type: typ, State: frames.StateAssigned, Revision: uint64(rev + 1), Customer: cust, Agent: agent, Queue: "general",
				Labels: []string{"billing", "refund"}, At: at}
			switch typ {
			case frames.EventOpened:
				ev.State, ev.Agent = frames.StateBot, nil
			case frames.EventQueued:
				ev.State, ev.Agent, ev.Position = frames.StateQueued, nil, 3
			case frames.EventTransferred:
				ev.PreviousAgent, ev.Agent, ev.Actor = agent, other, agent
			case frames.EventClosed, frames.EventTranscriptRequested, frames.EventMessageLeft:
				ev.State, ev.Agent, ev.PreviousAgent, ev.Actor, ev.Reason = frames.StateClosed, nil, other, other, frames.ReasonClosedByAgent
			case frames.EventRated:
				rating = &fd.Rating{Score: int32(i%5 + 1), Scale: frames.ScaleFive, Comment: "Quick and kind, thank you.", At: at}
				ev.State, ev.Agent, ev.PreviousAgent, ev.Actor, ev.Rating = frames.StateClosed, nil, other, cust, rating
				want.count++
				want.sum += int(rating.GetScore())
			}
			data, err := proto.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			msg := nats.NewMsg(subjects.Events(tenant, conv))
			msg.Data = data
			if _, err := v.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.GetId())); err != nil {
				b.Fatal(err)
			}
			if pending++; pending == 2000 {
				// Within the client's limit of outstanding asynchronous publishes.
				select {
				case <-v.js.PublishAsyncComplete():
				case <-time.After(time.Minute):
					b.Fatal("events not stored")
				}
				pending = 0
			}
		}
	}
	select {
	case <-v.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("events not stored")
	}
	return want
}
