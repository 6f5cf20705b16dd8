package hub

// Slow consumers: which subscriptions to look at for dropped messages. NATS drops a message
// for a subscription whose channel is full (the shards', hub.New) and reports the first drop of
// each run of them to the connection's async error handler: a run ends with the next message
// the subscription takes, so every drop follows a report. fillDropped reads the drop counts of
// the reported subscriptions only, and a subscription stays watched until it has taken a
// message after its last drop with none dropped since (its next drop is then reported again).

import (
	"errors"
	"sync"

	"github.com/nats-io/nats.go"
)

// slowWatch is one reported subscription.
type slowWatch struct {
	sub   *nats.Subscription
	noted uint64 // reports of sub when fillDropped listed it
}

// slowState is what the hub knows of a reported subscription.
type slowState struct {
	noted     uint64 // reports so far
	seen      bool   // fillDropped has read its counts once
	drops     int    // the drop count then
	delivered int64  // the delivered count then
}

// slowSet holds the reported subscriptions.
type slowSet struct {
	mu   sync.Mutex
	subs map[*nats.Subscription]*slowState
}

// watchSlowConsumers chains the hub's hook to nc's async error handler (the one set so far
// keeps being called).
func (h *Hub) watchSlowConsumers(nc *nats.Conn) {
	next := nc.Opts.AsyncErrorCB
	nc.SetErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
		if sub != nil && errors.Is(err, nats.ErrSlowConsumer) {
			h.noteSlow(sub)
		}
		if next != nil {
			next(c, sub, err)
		}
	})
}

// noteSlow records a report that sub dropped a message.
func (h *Hub) noteSlow(sub *nats.Subscription) {
	h.slow.mu.Lock()
	defer h.slow.mu.Unlock()
	if h.slow.subs == nil {
		h.slow.subs = map[*nats.Subscription]*slowState{}
	}
	st := h.slow.subs[sub]
	if st == nil {
		st = &slowState{}
		h.slow.subs[sub] = st
	}
	st.noted++
}

// slowSubs lists the watched subscriptions.
func (h *Hub) slowSubs() []slowWatch {
	h.slow.mu.Lock()
	defer h.slow.mu.Unlock()
	out := make([]slowWatch, 0, len(h.slow.subs))
	for sub, st := range h.slow.subs {
		out = append(out, slowWatch{sub: sub, noted: st.noted})
	}
	return out
}

// forgetSlow stops watching w's subscription unless it was reported again since it was listed.
func (h *Hub) forgetSlow(w slowWatch) {
	h.slow.mu.Lock()
	defer h.slow.mu.Unlock()
	if st := h.slow.subs[w.sub]; st != nil && st.noted == w.noted {
		delete(h.slow.subs, w.sub)
	}
}

// settleSlow records the counts fillDropped read for w (delivered, then drops) and stops
// watching the subscription once it is done dropping: no drop since the previous reading,
// and a message taken since it, so after the last drop (the counts were read in that order),
// which ended the run: a later drop is reported anew. A report that came in since w was
// listed, or a fill that could not start (filling), keeps it watched.
func (h *Hub) settleSlow(w slowWatch, drops int, delivered int64, filling bool) {
	h.slow.mu.Lock()
	defer h.slow.mu.Unlock()
	st := h.slow.subs[w.sub]
	if st == nil {
		return
	}
	if !filling && st.noted == w.noted && st.seen && drops == st.drops && delivered > st.delivered {
		delete(h.slow.subs, w.sub)
		return
	}
	st.seen, st.drops, st.delivered = true, drops, delivered
}
