// Catch-up: after a reconnect, one pass over the stream for every followed conversation.

package hub

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Watch catches up every followed conversation after the connection to NATS came back, until
// ctx ends: messages stored while the gateway was cut off were republished to nobody, and a
// quiet conversation would otherwise only notice at its next message. It polls the
// connection's reconnect count every interval; a catch-up in progress stops when ctx ends or
// the hub closes.
func (h *Hub) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	seen := h.nc.Stats().Reconnects
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// high is read before the reconnect count: the count goes up before the new
		// connection reads its first message, so when it has not moved, every message behind
		// high came before the last disconnect, and high is a sound mark (see catchUp).
		high := h.high.Load()
		r := h.nc.Stats().Reconnects
		if r == seen {
			storeMax(&h.mark, high)
			h.fillDropped()
			continue
		}
		if h.nc.IsConnected() {
			seen = r
			h.catchUp(ctx)
		}
	}
}

// fillDropped fills the conversations whose subscription lost messages to a slow-consumer drop
// since it was last looked at. A drop is otherwise found only when the conversation's next
// message reveals the gap, so the last messages of a burst, dropped with nothing after them,
// would wait for the customer's or agent's next message (TestConversationDelivery, "a dropped
// tail is filled without a next message"). It looks only at the subscriptions NATS reported as
// slow consumers (slow.go): reading every subscription's drop count was 8.6% of the gateway's
// CPU at 10,000 sockets.
func (h *Hub) fillDropped() {
	var dropped []*entry
	for _, w := range h.slowSubs() {
		// Delivered before Dropped: see settleSlow.
		delivered, err1 := w.sub.Delivered()
		drops, err2 := w.sub.Dropped()
		// The drop counts are read before the entry is locked (an entry's lock is never
		// taken while holding Hub.mu).
		h.mu.RLock()
		e := h.entries[w.sub.Subject]
		var sub *nats.Subscription
		if e != nil {
			sub = e.sub
		}
		h.mu.RUnlock()
		if err1 != nil || err2 != nil || e == nil || e.kind != Messages || (sub != nil && sub != w.sub) {
			h.forgetSlow(w) // unsubscribed or replaced: nothing of it to fill
			continue
		}
		if sub == nil {
			continue // still starting (held, filling): looked at again next time
		}
		e.mu.Lock()
		filling := e.filling
		if !filling && e.droppedMore(drops) {
			e.filling = true
			dropped = append(dropped, e)
		}
		e.mu.Unlock()
		h.settleSlow(w, drops, delivered, filling)
	}
	if len(dropped) > 0 {
		h.metrics.Drops.WithLabelValues("gap").Add(float64(len(dropped)))
		h.spawn(func() { h.fillAll(dropped) })
	}
}

// catchUpBatch is the number of messages fetched per request by a reconnect catch-up.
const catchUpBatch = 1024

// catchUp reads, after a reconnect, what the followed conversations missed, in one pass over
// the stream rather than one request (and maybe one consumer) per conversation.
//
// Why one pass from the mark finds everything: the stream republishes its messages to a
// connection in sequence order, so once the hub received sequence s, every message
// republished to it before s had arrived (or was dropped as a slow consumer: see below).
// Whatever a followed conversation missed because the connection went away therefore comes
// after the highest sequence received before the disconnect. Watch keeps mark at or below
// that: it raises mark to high only while the reconnect count has not moved. base gives the
// first mark before any conversation was followed, and a finished catch-up raises mark to
// the end it read, since every conversation then has what the stream held up to it (the
// ones it left to their own fill ask for their last message after that end was read).
//
// What the pass cannot see: a message lost to a slow-consumer drop before the mark. Those
// conversations are found by their subscription's drop count (or, later, by their next
// message's previous sequence) and read on their own, as is a conversation whose own fill
// runs (it reads once more), and every conversation when the backlog is over
// Options.CatchUpMax or the stream went back (recreated, restored): a request per
// conversation, Fills at a time. In a cluster, a change of stream leader could reorder
// republished messages around a disconnect; the previous sequence of the conversation's next
// message still reveals such a gap.
func (h *Hub) catchUp(ctx context.Context) {
	h.catchMu.Lock()
	defer h.catchMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.ctx, cancel)()
	began := time.Now()
	from := h.mark.Load()
	// The end is read before the conversations are taken over: a conversation followed from
	// now on asks for its last message after it, and a fill told to read again does too.
	var end int64
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if end, err = h.streamLast(ctx); err == nil {
			break
		}
		h.log.Debug("catch-up", zap.Error(err))
		if !sleep(ctx, wait) {
			return
		}
	}

	type followed struct {
		e   *entry
		sub *nats.Subscription
	}
	h.mu.RLock()
	all := make([]followed, 0, len(h.entries))
	for _, e := range h.entries {
		if e.kind == Messages {
			all = append(all, followed{e, e.sub})
		}
	}
	h.mu.RUnlock()
	if len(all) == 0 {
		return
	}
	// Take over every conversation that is not being read already: live messages are held
	// from now on, as during a fill.
	set := make(map[string]*entry, len(all)) // by stored subject, the subject scan reports
	var alone []*entry
	for _, f := range all {
		dropped := false
		if f.sub != nil {
			if n, err := f.sub.Dropped(); err == nil && f.e.droppedMore(n) {
				dropped = true
			}
		}
		e := f.e
		e.mu.Lock()
		switch {
		case e.filling:
			e.again = true // a fill or start runs; it asks once more
		case dropped:
			e.filling = true
			alone = append(alone, e)
		default:
			e.filling = true
			set[e.stream] = e
		}
		e.mu.Unlock()
	}
	if end-from > h.opts.CatchUpMax || end < from {
		h.log.Info("catch-up conversation by conversation", zap.Int64("backlog", end-from), zap.Int("conversations", len(all)))
		for _, e := range set {
			alone = append(alone, e)
		}
		clear(set)
	}
	h.spawn(func() { h.fillAll(alone) })
	if h.catchUpHook != nil {
		h.catchUpHook()
	}

	read, delivered := 0, 0
	done := from
	for wait := 100 * time.Millisecond; done < end && len(set) > 0; wait = min(2*wait, 5*time.Second) {
		err := scan(ctx, h.js, subjects.AllMessages(), done, end, catchUpBatch, func(subject string, seq int64, data []byte) {
			if seq > end {
				return // stored after the end was read: republished to us, held if need be
			}
			read++
			done = seq
			e := set[subject]
			if e == nil {
				return // a conversation other gateways follow
			}
			msg := &fd.Message{}
			if proto.Unmarshal(data, msg) != nil {
				return // undecodable: skipped, as live delivery does
			}
			msg.Conv = e.conv
			d := &Delivery{Kind: Messages, Conv: e.conv, Seq: seq, Message: msg, Frame: frames.MessageFrame(msg, seq), prev: -1}
			e.mu.Lock()
			if seq > e.last {
				h.deliverLocked(e, d)
				delivered++
			}
			e.mu.Unlock()
		})
		if err == nil {
			break // the rest (if any) was removed by the stream's limits
		}
		h.log.Debug("catch-up", zap.Int64("at", done), zap.Error(err))
		if !sleep(ctx, wait) {
			break
		}
	}
	if ctx.Err() != nil {
		// Watch stopped (or the hub closed, and then nothing matters): the conversations go
		// back to their own fills rather than hold live messages forever.
		var left []*entry
		for _, e := range set {
			left = append(left, e)
		}
		h.spawn(func() { h.fillAll(left) })
		return
	}
	var again []*entry
	for _, e := range set {
		e.mu.Lock()
		if !h.releaseLocked(e, end, false) {
			again = append(again, e)
		}
		e.mu.Unlock()
	}
	h.spawn(func() { h.fillAll(again) })
	storeMax(&h.mark, end)
	h.log.Info("caught up after reconnect", zap.Int("conversations", len(all)), zap.Int64("from", from),
		zap.Int64("to", end), zap.Int("read", read), zap.Int("delivered", delivered),
		zap.Int("alone", len(alone)+len(again)), zap.Duration("took", time.Since(began)))
}

// sleep waits d or until ctx ends, reporting whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// droppedMore records n, a subscription's count of messages dropped for a slow consumer, and
// reports whether it rose since the entry last looked: the messages in between are missing and
// the entry needs a fill. Only Watch's goroutine calls it (fillDropped and catchUp).
func (e *entry) droppedMore(n int) bool {
	if n <= e.drops {
		return false
	}
	e.drops = n
	return true
}
