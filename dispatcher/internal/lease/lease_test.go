package lease

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// owners tracks, per partition, which replicas believe they own it.
type owners struct {
	mu sync.Mutex
	by map[int]map[string]bool
}

func (o *owners) cb(id string) Callbacks {
	return Callbacks{
		Acquired: func(p int) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.by[p] == nil {
				o.by[p] = map[string]bool{}
			}
			o.by[p][id] = true
		},
		Lost: func(p int) {
			o.mu.Lock()
			defer o.mu.Unlock()
			delete(o.by[p], id)
		},
	}
}

func (o *owners) check(n int, want map[string]int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := map[string]int{}
	for p := range n {
		if len(o.by[p]) != 1 {
			return fmt.Errorf("partition %d has owners %v", p, o.by[p])
		}
		for id := range o.by[p] {
			got[id]++
		}
	}
	for id, w := range want {
		if got[id] != w {
			return fmt.Errorf("owned %v, want %v", got, want)
		}
	}
	return nil
}

func TestLeases(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	_, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	const n = 6
	ttl := 400 * time.Millisecond
	o := &owners{by: map[int]map[string]bool{}}
	start := func(id string) (context.CancelFunc, chan struct{}) {
		nc, js := testkit.Connect(t, srv.URL())
		kv, err := js.KeyValue(t.Context(), subjects.BucketDispatcher)
		if err != nil {
			t.Fatal(err)
		}
		m := New(kv, Options{ID: id, Partitions: n, TTL: ttl}, o.cb(id), testkit.Logger(t).Named(id))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = m.Run(ctx, id != "a") // a dies without releasing
		}()
		t.Cleanup(func() { cancel(); <-done; nc.Close() })
		return cancel, done
	}
	killA, doneA := start("a")
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error { return o.check(n, map[string]int{"a": n}) })
	start("b")
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error { return o.check(n, map[string]int{"a": n / 2, "b": n / 2}) })
	killA()
	<-doneA
	began := time.Now()
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error { return o.check(n, map[string]int{"b": n}) })
	t.Logf("takeover after kill: %v (ttl %v)", time.Since(began), ttl)
}
