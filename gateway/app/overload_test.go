package app_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestOverloadShedsAtOnce: when more sends arrive at once than the gateway lets into
// JetStream (gateway.max_publishes in flight), the excess is refused with `overloaded` within
// publish_wait instead of waiting in line; a refused send was not stored, an acked one was,
// and retrying the refused ones with the same ids stores each message exactly once.
//
// Forty customers each fire fifteen sends back to back at a window of two publishes: with
// every store a real JetStream round trip, most sends find the window full. Without the
// window every send waits its turn and is acked, and the test fails.
func TestOverloadShedsAtOnce(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) {
		c.Gateway.MaxPublishes = 2
		c.Gateway.PublishWait = time.Millisecond
	})
	const customers, sends = 40, 15
	type cust struct {
		c    *apptest.Client
		conv string
	}
	cs := make([]cust, customers)
	for i := range cs {
		c, _ := g.Dial(t, apptest.Token(t, "roomy", fmt.Sprintf("ov%d", i), frames.RoleCustomer))
		c.Send(apptest.Text("open", "", "hello"))
		cs[i] = cust{c, c.Await(frames.TypeAck, apptest.HasID("open")).GetConv()}
	}
	var mu sync.Mutex
	acked, refused := map[string]int64{}, map[string]bool{}
	var wg sync.WaitGroup
	for i, cu := range cs {
		wg.Go(func() {
			for k := range sends {
				cu.c.Send(apptest.Text(fmt.Sprintf("%d.%d", i, k), cu.conv, "burst"))
			}
			for n := 0; n < sends; {
				f := cu.c.Next()
				if f.GetType() != frames.TypeAck && f.GetType() != frames.TypeError {
					continue // the customer's own messages, echoed
				}
				n++
				mu.Lock()
				switch {
				case f.GetType() == frames.TypeAck:
					acked[f.GetId()] = f.GetSeq()
				case f.GetType() == frames.TypeError && f.GetCode() == frames.CodeOverloaded:
					refused[f.GetId()] = true
				default:
					t.Errorf("customer %d: %v, want ack or overloaded", i, f)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(refused) == 0 {
		t.Fatalf("all %d sends acked: nothing was shed", len(acked))
	}
	t.Logf("burst of %d sends: %d acked, %d refused overloaded", customers*sends, len(acked), len(refused))
	checkStoredOnce(t, storedCounts(t, e, "roomy"), slices.Collect(maps.Keys(acked)), slices.Collect(maps.Keys(refused)))
	// Retried one at a time, every refused send goes through, once.
	for id := range refused {
		var i, k int
		_, _ = fmt.Sscanf(id, "%d.%d", &i, &k)
		c := cs[i].c
		c.Send(apptest.Text(id, cs[i].conv, "burst"))
		c.Await(frames.TypeAck, apptest.HasID(id))
	}
	got := storedCounts(t, e, "roomy")
	for i := range customers {
		for k := range sends {
			if id := fmt.Sprintf("%d.%d", i, k); got[id] != 1 {
				t.Fatalf("send %s stored %d times after the retries", id, got[id])
			}
		}
	}
}

// storedCounts counts tenant's stored messages by client id.
func storedCounts(t *testing.T, e *apptest.Env, tenant string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, m := range e.StreamMsgs(subjects.StreamMessages, subjects.TenantMessages(tenant)) {
		n[clientID(t, m)]++
	}
	return n
}

// checkStoredOnce fails unless no refused send was stored and every acked one was, once.
func checkStoredOnce(t *testing.T, stored map[string]int, acked, refused []string) {
	t.Helper()
	for _, id := range refused {
		if stored[id] != 0 {
			t.Fatalf("refused send %s was stored", id)
		}
	}
	for _, id := range acked {
		if stored[id] != 1 {
			t.Fatalf("acked send %s stored %d times", id, stored[id])
		}
	}
}

func clientID(t *testing.T, m jetstream.Msg) string {
	t.Helper()
	msg := &fd.Message{}
	if err := proto.Unmarshal(m.Data(), msg); err != nil {
		t.Fatal(err)
	}
	return msg.GetClientId()
}

// TestAdmissionShedsNewSends: once the publishes are late (a limit of 1ns makes every one
// late), a busy gateway cuts the rate at which it admits new sends below what it is sent and
// refuses the rest with `overloaded` at once; nothing refused was stored, everything acked was,
// once. With admission off (shed_latency 0), or a controller that never cuts, every send is
// acked and the test fails at its deadline.
func TestAdmissionShedsNewSends(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) {
		c.Gateway.ShedPublishLatency = time.Nanosecond
		c.Gateway.ShedMinSends = 1
	})
	c, _ := g.Dial(t, apptest.Token(t, "roomy", "admitted", frames.RoleCustomer))
	c.Send(apptest.Text("open", "", "hello"))
	conv := c.Await(frames.TypeAck, apptest.HasID("open")).GetConv()
	acked, refused := map[string]bool{"open": true}, map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	for k := 0; len(refused) < 5; k++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends in a minute, all acked: admission never cut the rate", k)
		}
		id := fmt.Sprintf("s%d", k)
		time.Sleep(2 * time.Millisecond) // at most 500 a second: under the tenant's user rate limit
		c.Send(apptest.Text(id, conv, "one at a time"))
		f := c.Next()
		for f.GetId() != id || (f.GetType() != frames.TypeAck && f.GetType() != frames.TypeError) {
			f = c.Next() // the customer's own messages, echoed
		}
		switch {
		case f.GetType() == frames.TypeAck:
			acked[id] = true
		case f.GetCode() == frames.CodeOverloaded:
			refused[id] = true
		default:
			t.Fatalf("send %s: %v, want ack or overloaded", id, f)
		}
	}
	checkStoredOnce(t, storedCounts(t, e, "roomy"), slices.Collect(maps.Keys(acked)), slices.Collect(maps.Keys(refused)))
	t.Logf("%d acked, %d refused overloaded", len(acked), len(refused))
}
