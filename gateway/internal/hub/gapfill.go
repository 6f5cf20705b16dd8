// Gap fill: reading from the stream what one conversation missed, holding its live messages
// meanwhile.

package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// maxFillRounds bounds the rounds of one fill: a message the stream no longer holds (removed
// by its limits) cannot be read, and the messages after it are delivered anyway.
const maxFillRounds = 5

// fill reads what the conversation is missing from the stream, delivers it, then releases the
// live messages held meanwhile. e.filling is set by the caller. It retries while NATS is
// unreachable, until the conversation is no longer followed or the hub closes.
func (h *Hub) fill(e *entry) {
	select {
	case h.fills <- struct{}{}:
	case <-h.ctx.Done():
		return
	}
	defer func() { <-h.fills }()
	wait := 100 * time.Millisecond
	for round := 0; ; {
		if !h.following(e) || h.ctx.Err() != nil {
			return
		}
		// This round asks for the conversation's last message after any reconnect so far.
		e.mu.Lock()
		e.again = false
		e.mu.Unlock()
		end, err := h.readStored(e)
		if err != nil {
			h.log.Debug("gap fill", zap.String("subject", e.stream), zap.Error(err))
			select {
			case <-time.After(wait):
			case <-h.ctx.Done():
				return
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		round++
		e.mu.Lock()
		done := h.releaseLocked(e, end, round >= maxFillRounds)
		e.mu.Unlock()
		if done {
			return
		}
	}
}

// releaseLocked hands over, in order, the live messages held while the conversation was read
// from the stream up to end, dropping those already delivered, and ends the fill. It returns
// false, keeping the rest held and the fill on, when the stream must be read again: a held
// message follows one that is missing and was stored after end (so neither the read nor live
// delivery brought it; on the last round it is delivered anyway), live messages were dropped
// because too many were held, or a reconnect asked for another read.
func (h *Hub) releaseLocked(e *entry, end int64, lastRound bool) bool {
	overflow := e.overflow
	e.overflow = false
	held := e.pending
	e.pending = nil
	i := 0
	for ; i < len(held); i++ {
		d := held[i]
		if d.Seq <= e.last {
			continue
		}
		if d.prev > e.last && d.prev > end && !lastRound {
			break
		}
		h.deliverLocked(e, d)
	}
	if i < len(held) || overflow || e.again {
		e.pending = held[i:len(held):len(held)]
		return false
	}
	e.filling = false
	return true
}

func (h *Hub) following(e *entry) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.entries[e.subject] == e
}

// fillBatch is the number of messages read per round trip when filling a gap.
const fillBatch = 256

// readStored delivers the conversation's stored messages after e.last up to the last one
// stored now, which it returns, with a short-lived ordered consumer removed when done.
func (h *Hub) readStored(e *entry) (int64, error) {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	end, err := h.lastStored(ctx, e.stream)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	from := e.last
	e.mu.Unlock()
	if end <= from {
		return end, nil
	}
	return end, ReadStream(ctx, h.js, e.stream, from, end, func(msg *fd.Message, seq int64) {
		msg.Conv = e.conv
		d := &Delivery{Kind: Messages, Conv: e.conv, Seq: seq, Message: msg, Frame: frames.MessageFrame(msg, seq), prev: -1}
		e.mu.Lock()
		if seq > e.last {
			h.deliverLocked(e, d)
		}
		e.mu.Unlock()
	})
}

// fillAll fills the conversations (each marked filling by the caller) Options.Fills at a time,
// with that many goroutines rather than one per conversation.
func (h *Hub) fillAll(es []*entry) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(h.opts.Fills, len(es)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(es)); i = next.Add(1) - 1 {
				h.fill(es[i])
			}
		})
	}
	wg.Wait()
}
