// The registry: which subjects the process follows, for which listeners, and the NATS
// subscription behind each.

package hub

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Subscribe adds l as a listener of subject, subscribing the process on first use. conv is the
// conversation of conversation kinds. Subscribing the same listener twice delivers twice; the
// caller keeps track.
//
// A conversation's messages (subjects.Deliver) are delivered from the moment Subscribe
// returns: whatever the stream stored after that point reaches l, in seq order.
//
// Joining a subject the process already follows waits for the subject's worker to get past
// what arrived before the call (join.go), so l never gets a message older than its reason to
// subscribe; Subscribe must therefore not be called from a Listener's Deliver.
//
// An Overview listener first gets the latest overview the process received, if it follows
// the subject already, before Subscribe returns; newer ones follow live, each once. The
// latest is forgotten with the subscription, when the last listener leaves: overviews
// published after that were missed, so it may be stale.
func (h *Hub) Subscribe(kind Kind, subject, conv string, l Listener) error {
	h.mu.Lock()
	e, ok := h.entries[subject]
	if ok && e.kind == Overview {
		h.mu.Unlock()
		if !h.joinLatest(e, l) {
			// The entry went away meanwhile (its last listener left): start over.
			return h.Subscribe(kind, subject, conv, l)
		}
		<-e.ready
		if e.err != nil {
			h.Unsubscribe(subject, l)
			return e.err
		}
		return nil
	}
	if ok {
		// Counted from now (Unsubscribe finds it), delivered to once the shard's worker reaches
		// the join (join.go): not what arrived before it.
		e.joining = append(e.joining, l)
		h.mu.Unlock()
		<-e.ready
		if e.err != nil {
			h.Unsubscribe(subject, l)
			return e.err
		}
		joined, err := h.join(e, l)
		if err == nil && !joined {
			// The subscription ended meanwhile (its last listener left): start over.
			return h.Subscribe(kind, subject, conv, l)
		}
		return err
	}
	e = &entry{kind: kind, subject: subject, conv: conv, ready: make(chan struct{}), listeners: []Listener{l}}
	if kind == Messages {
		// Held until start knows where the conversation stands.
		e.filling = true
		e.stream = storedSubject(subject)
	}
	h.entries[subject] = e
	h.mu.Unlock()

	sub, err := h.subscribe(subject)
	if err == nil && kind == Messages {
		if err = h.start(e); err != nil {
			_ = sub.Unsubscribe()
		}
	}
	h.mu.Lock()
	if err != nil {
		e.err = fmt.Errorf("subscribe %s: %w", subject, err)
		if h.entries[subject] == e {
			delete(h.entries, subject)
		}
	} else {
		e.sub = sub
		h.metrics.Subscriptions.WithLabelValues(kind.String()).Inc()
		if len(e.listeners)+len(e.joining) == 0 || h.entries[subject] != e {
			// Every listener left while we subscribed.
			defer h.release(kind, sub)
			if h.entries[subject] == e {
				delete(h.entries, subject)
			}
		}
	}
	h.mu.Unlock()
	close(e.ready)
	return e.err
}

// joinLatest adds l to the Overview entry e and hands it e's latest overview, if any. Both
// happen under e.mu, which live overviews are delivered under too, so l gets either an
// overview live or as the latest, never both, and the newest always last. It reports false,
// adding nothing, when e is no longer the subject's entry.
func (h *Hub) joinLatest(e *entry, l Listener) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	h.mu.Lock()
	if h.entries[e.subject] != e {
		h.mu.Unlock()
		return false
	}
	e.listeners = append(e.listeners[:len(e.listeners):len(e.listeners)], l)
	h.mu.Unlock()
	if e.latest != nil {
		l.Deliver(e.latest)
	}
	return true
}

// storedSubject maps a deliver subject to the subject the stream stores the conversation under
// (both end with the tenant and conversation tokens, which contain no dots).
func storedSubject(deliver string) string {
	i := strings.LastIndexByte(deliver, '.')
	j := strings.LastIndexByte(deliver[:i], '.')
	return subjects.Messages(deliver[j+1:i], deliver[i+1:])
}

func (h *Hub) subscribe(subject string) (*nats.Subscription, error) {
	return h.nc.ChanSubscribe(subject, h.shard(subject))
}

// shard is the channel, and so the worker, of subject's messages.
func (h *Hub) shard(subject string) chan *nats.Msg {
	var hs maphash.Hash
	hs.SetSeed(h.seed)
	hs.WriteString(subject)
	return h.shards[hs.Sum64()%uint64(len(h.shards))]
}

// start sets where a newly followed conversation stands: its last stored message. The request
// goes out after the subscription on the same connection, which the server handles in order,
// so every message stored after the answer's sequence is also republished to us; messages held
// meanwhile at or before it are dropped (the caller began after them).
func (h *Hub) start(e *entry) error {
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	if err := h.base(ctx); err != nil {
		return err
	}
	last, err := h.lastStored(ctx, e.stream)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = last
	e.filling = false
	held := e.pending
	e.pending = nil
	for _, d := range held {
		h.liveLocked(e, d)
	}
	// again: a reconnect came while we asked, so the answer may predate messages we missed.
	if (e.overflow || e.again) && !e.filling {
		e.filling = true
		h.spawn(func() { h.fill(e) })
	}
	return nil
}

// Unsubscribe removes one registration of l from subject; the last one unsubscribes the process.
func (h *Hub) Unsubscribe(subject string, l Listener) {
	h.mu.Lock()
	e, ok := h.entries[subject]
	if !ok {
		h.mu.Unlock()
		return
	}
	if !removeOne(&e.joining, l) {
		removeOne(&e.listeners, l)
	}
	if len(e.listeners)+len(e.joining) > 0 || e.sub == nil {
		h.mu.Unlock()
		return // still used, or the subscribing goroutine cleans up
	}
	delete(h.entries, subject)
	h.mu.Unlock()
	h.release(e.kind, e.sub)
}

// removeOne removes one registration of l from *ls, copying (the slice may be being read),
// and reports whether there was one.
func removeOne(ls *[]Listener, l Listener) bool {
	for i, x := range *ls {
		if x == l {
			out := make([]Listener, 0, len(*ls)-1)
			out = append(out, (*ls)[:i]...)
			*ls = append(out, (*ls)[i+1:]...)
			return true
		}
	}
	return false
}

// release drops a subscription outside the hub's lock.
func (h *Hub) release(kind Kind, sub *nats.Subscription) {
	h.metrics.Subscriptions.WithLabelValues(kind.String()).Dec()
	_ = sub.Unsubscribe()
}

// Subscribed reports whether the process holds subject (tests).
func (h *Hub) Subscribed(subject string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.entries[subject]
	return ok
}

func (h *Hub) lookup(subject string) (*entry, []Listener) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	e, ok := h.entries[subject]
	if !ok {
		return nil, nil
	}
	return e, e.listeners
}
