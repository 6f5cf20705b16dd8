// Joining a subject the process already follows, in order with what arrives on it.

package hub

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// pendingJoin is a listener waiting to be added to an entry's listeners.
type pendingJoin struct {
	e    *entry
	l    Listener
	ok   bool // the listener was added; false when the entry was gone
	done chan struct{}
}

// join adds l, registered in e.joining, to e's listeners at a point in the stream of e's
// messages: a marker goes through the subject's shard channel behind whatever already arrived,
// and the shard's worker, which handles the subject's messages one at a time and in order,
// adds l when it reaches the marker. So l gets only what arrived after it asked, never a
// message published before, handled late: the listeners are resolved when a worker runs, and
// a session that joins a conversation because of a frame published after an event (its
// assignment after the conversation's queued state) would otherwise get the stale event after
// the new frame (issue 17). Every message that arrives after join returns reaches l.
//
// It reports false when the subscription ended before the worker got there; the caller
// subscribes again. It must not run on a hub worker (it waits for one).
func (h *Hub) join(e *entry, l Listener) (bool, error) {
	marker := &nats.Msg{Subject: e.subject} // Sub nil: a marker
	p := &pendingJoin{e: e, l: l, done: make(chan struct{})}
	h.joins.Store(marker, p)
	select {
	case h.shard(e.subject) <- marker:
	case <-h.ctx.Done():
		h.joins.Delete(marker)
		return false, fmt.Errorf("join %s: %w", e.subject, h.ctx.Err())
	}
	select {
	case <-p.done:
		return p.ok, nil
	case <-h.ctx.Done():
		return false, fmt.Errorf("join %s: %w", e.subject, h.ctx.Err())
	}
}

// joined runs on the shard's worker when it reaches a join marker.
func (h *Hub) joined(marker *nats.Msg) {
	v, ok := h.joins.LoadAndDelete(marker)
	if !ok {
		return
	}
	p := v.(*pendingJoin)
	defer close(p.done)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries[p.e.subject] != p.e {
		// Gone: the caller subscribes again, unless it unsubscribed meanwhile.
		p.ok = !removeOne(&p.e.joining, p.l)
		return
	}
	if removeOne(&p.e.joining, p.l) {
		p.e.listeners = append(p.e.listeners[:len(p.e.listeners):len(p.e.listeners)], p.l)
	}
	// Unsubscribed meanwhile: nothing to add, and the caller's registration is gone, as asked.
	p.ok = true
}
