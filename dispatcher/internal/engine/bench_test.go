package engine

import (
	"fmt"
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
	const agents = 20
	v := newEnv(b, baseTenant("acme"))
	r := v.waitOwner(v.start("r1", testSettings()))
	var queued, assigned atomic.Int64
	done := make(chan struct{})
	sub, err := v.nc.Subscribe(subjects.TenantEvents("acme"), func(m *nats.Msg) {
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) != nil {
			return
		}
		switch ev.GetType() {
		case frames.EventQueued:
			queued.Add(1)
		case frames.EventAssigned:
			if assigned.Add(1) == int64(b.N) {
				close(done)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for i := range b.N {
		v.openConv(fmt.Sprintf("c%06d", i), fmt.Sprint("u", i), frames.StateQueued, 0)
	}
	testkit.CheckFor(b, time.Minute, 5*time.Millisecond, func() error {
		if n := queued.Load(); n < int64(b.N) {
			return fmt.Errorf("%d of %d queued", n, b.N)
		}
		return nil
	})
	for i := range agents {
		v.online(fmt.Sprint("a", i), "s", int32(b.N/agents+1))
	}
	// Every agent's heartbeat is in before the clock starts: all of them online (and away
	// until their status command).
	testkit.CheckFor(b, 5*time.Second, 5*time.Millisecond, func() error {
		if got := testutil.ToFloat64(r.e.m.agents.WithLabelValues("acme", frames.StatusAway)); got != agents {
			return fmt.Errorf("%v of %d agents online", got, agents)
		}
		return nil
	})
	b.ResetTimer()
	start := time.Now()
	for i := range agents {
		v.status(fmt.Sprint("a", i), frames.StatusAvailable)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d assigned", assigned.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "assignments/s")
}
