package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestCapacityUnderLoad opens 50 conversations at once for 5 agents of capacity 3 who close
// each conversation shortly after getting it. No agent ever holds more than 3, nobody is
// assigned twice, and everyone is served.
func TestCapacityUnderLoad(t *testing.T) {
	t.Parallel()
	const customers, agents, capacity = 50, 5, 3
	v := newEnv(t, baseTenant("acme"))
	v.waitOwner(v.start("r1", testSettings()))

	var mu sync.Mutex
	holding := map[string]map[string]bool{}
	served := map[string]int{}
	var violations []string
	handlers := newWorkers(t)
	for i := range agents {
		id := fmt.Sprint("a", i)
		holding[id] = map[string]bool{}
		sub, err := v.nc.Subscribe(subjects.User("acme", id), func(m *nats.Msg) {
			f := &fd.ServerFrame{}
			if proto.Unmarshal(m.Data, f) != nil || f.GetType() != frames.TypeAssigned {
				return
			}
			mu.Lock()
			holding[id][f.GetConv()] = true
			served[f.GetConv()]++
			if n := len(holding[id]); n > capacity {
				violations = append(violations, fmt.Sprintf("%s holds %d", id, n))
			}
			mu.Unlock()
			handlers.Go(func() {
				// Handling time, not a wait for a condition.
				time.Sleep(time.Duration(5+rand.IntN(30)) * time.Millisecond)
				mu.Lock()
				delete(holding[id], f.GetConv())
				mu.Unlock()
				v.convCmd(frames.CommandClose, f.GetConv(), agentP(id), nil)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		v.online(id, "s-"+id, capacity)
		v.status(id, frames.StatusAvailable)
	}
	var wg sync.WaitGroup
	for i := range customers {
		wg.Go(func() { v.openConv(fmt.Sprintf("c%02d", i), fmt.Sprint("u", i), frames.StateQueued, 0) })
	}
	wg.Wait()
	testkit.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		for i := range customers {
			if c := v.get(fmt.Sprintf("c%02d", i)); c.GetState() != frames.StateClosed {
				return fmt.Errorf("c%02d is %s", i, c.GetState())
			}
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("capacity violated: %v", violations)
	}
	assigned := map[string]int{}
	for _, ev := range v.events() {
		if ev.GetType() == frames.EventAssigned {
			assigned[ev.GetConv()]++
		}
	}
	for i := range customers {
		conv := fmt.Sprintf("c%02d", i)
		if assigned[conv] != 1 || served[conv] != 1 {
			t.Errorf("%s assigned %d times (frames %d)", conv, assigned[conv], served[conv])
		}
	}
}
