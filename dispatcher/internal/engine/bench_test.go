package engine

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// BenchmarkAssignNATS measures end-to-end assignment through a real JetStream server: b.N
// customers wait, then 20 agents become available and the dispatcher assigns everyone. Each
// assignment is a compare-and-set on fd_conversations, a participant key, a stored event and
// an agent frame. ns/op is the time per assignment; run with a fixed count:
//
//	go test -run '^$' -bench AssignNATS -benchtime 2000x ./internal/engine
func BenchmarkAssignNATS(b *testing.B) {
	benchLine(b, testSettings(), 20, time.Minute, func(v *env, convs []string) {
		for i, conv := range convs {
			v.openConv(conv, fmt.Sprint("u", i), frames.StateQueued, 0)
		}
	})
}

// The setup the NATS benchmarks share (this file's and burst_bench_test.go's).

// benchLine is a line-clearing benchmark: b.N customers wait (open creates their queued
// conversations), then agents with room for all of them become available at once. Timed from
// the agents' status commands to the last assigned event stored; wait bounds the line's forming
// and its clearing.
func benchLine(b *testing.B, set Settings, agents int, wait time.Duration, open func(v *env, convs []string)) {
	v := newEnv(b, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", set))
	n := b.N
	var queued, assigned atomic.Int64
	done := make(chan struct{})
	onEvents(b, v, func(ev *fd.ConversationEvent) {
		switch ev.GetType() {
		case frames.EventQueued:
			queued.Add(1)
		case frames.EventAssigned:
			if assigned.Add(1) == int64(n) {
				close(done)
			}
		}
	})
	open(v, benchConvs(n))
	testkit.CheckFor(b, wait, 10*time.Millisecond, func() error {
		if q := queued.Load(); q < int64(n) {
			return fmt.Errorf("%d of %d queued", q, n)
		}
		return nil
	})
	// Every agent's heartbeat is in before the clock starts: all of them online (and away
	// until their status command).
	agentsOnline(b, v, r, agents, int32(n/agents+1), false)
	stopProfile := profileTimed(b)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for i := range agents {
		v.status(fmt.Sprint("a", i), frames.StatusAvailable)
	}
	select {
	case <-done:
	case <-time.After(wait):
		b.Fatalf("%d of %d assigned", assigned.Load(), n)
	}
	b.StopTimer()
	stopProfile()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "assignments/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Microsecond)/float64(n), "cpu-µs/assignment")
}

// profileTimed starts a CPU profile of the timed part alone when FRONTDESK_BENCH_CPUPROFILE
// names a file (go test's -cpuprofile would mostly show a long line's setup), and returns
// its stop.
func profileTimed(b *testing.B) func() {
	path := os.Getenv("FRONTDESK_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// benchConvs names n conversations in order, c000000 first.
func benchConvs(n int) []string {
	convs := make([]string, n)
	for i := range convs {
		convs[i] = fmt.Sprintf("c%06d", i)
	}
	return convs
}

// onEvents calls fn with every conversation event of acme until the benchmark ends.
func onEvents(b *testing.B, v *env, fn func(ev *fd.ConversationEvent)) {
	b.Helper()
	sub, err := v.nc.Subscribe(subjects.TenantEvents("acme"), func(m *nats.Msg) {
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) == nil {
			fn(ev)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
}

// agentsOnline brings agents a0, a1, ... online with capacity each, available or away, and
// waits until r's dispatcher counts every one of them so (routable when available).
func agentsOnline(b *testing.B, v *env, r *replica, agents int, capacity int32, available bool) {
	b.Helper()
	label := frames.StatusAway
	for i := range agents {
		v.online(fmt.Sprint("a", i), "s", capacity)
		if available {
			v.status(fmt.Sprint("a", i), frames.StatusAvailable)
			label = "routable"
		}
	}
	testkit.CheckFor(b, 10*time.Second, 5*time.Millisecond, func() error {
		if got := testutil.ToFloat64(r.e.m.agents.WithLabelValues("acme", label)); got != float64(agents) {
			return fmt.Errorf("%v of %d agents %s", got, agents, label)
		}
		return nil
	})
}
