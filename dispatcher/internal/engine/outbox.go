package engine

import (
	"slices"
	"time"
)

// pendingEvent is a lifecycle event ready to publish. owed: the conversation's record marks
// it as owed (effects.go owe), to delete once it is stored (tenant.settle).
type pendingEvent struct {
	conv, id, typ string
	data          []byte
	owed          bool
}

// Outbox retry schedule: the first retry on the next tick, then doubling up to the cap.
const (
	outboxFirstRetry = 50 * time.Millisecond
	outboxMaxRetry   = 5 * time.Second
	// outboxMax bounds the events one tenant keeps waiting while JetStream refuses them; past
	// it new ones are dropped (and counted): a takeover still repairs each conversation's
	// latest event.
	outboxMax = 10_000
)

// outbox holds the lifecycle events whose publish failed after their change committed. The
// actor retries them from its tick with exponential backoff instead of sleeping, so presence,
// timers and other conversations go on while JetStream is away. A conversation's events
// leave in the order they were made: while one of its events waits, its later ones wait
// behind it. It is owned by the tenant's actor goroutine and needs no lock.
type outbox struct {
	order  []string // conversations with waiting events, oldest first
	byConv map[string][]pendingEvent
	n      int
	delay  time.Duration // the current backoff; 0 after a success
	due    time.Time     // no retry before
	// dropped counts events refused because the outbox was full.
	dropped int
}

// holds reports whether conv has events waiting.
func (o *outbox) holds(conv string) bool { return len(o.byConv[conv]) > 0 }

// owes reports whether an owed event of conv other than the one with id except waits.
func (o *outbox) owes(conv, except string) bool {
	for _, pe := range o.byConv[conv] {
		if pe.owed && pe.id != except {
			return true
		}
	}
	return false
}

// len is the number of waiting events.
func (o *outbox) len() int { return o.n }

// add queues pe behind its conversation's waiting events. It reports false when the outbox
// is full and pe was dropped.
func (o *outbox) add(pe pendingEvent) bool {
	if o.n >= outboxMax {
		o.dropped++
		return false
	}
	if o.byConv == nil {
		o.byConv = map[string][]pendingEvent{}
	}
	if len(o.byConv[pe.conv]) == 0 {
		o.order = append(o.order, pe.conv)
	}
	o.byConv[pe.conv] = append(o.byConv[pe.conv], pe)
	o.n++
	return true
}

// ready reports whether events wait and their retry is due at now.
func (o *outbox) ready(now time.Time) bool { return o.n > 0 && !now.Before(o.due) }

// flush publishes the waiting events in order until one fails; the failure schedules the next
// retry (doubling the backoff) and is returned. A full flush resets the backoff.
func (o *outbox) flush(now time.Time, publish func(pendingEvent) error) (sent int, err error) {
	for len(o.order) > 0 {
		conv := o.order[0]
		for len(o.byConv[conv]) > 0 {
			if err := publish(o.byConv[conv][0]); err != nil {
				o.delay = min(max(2*o.delay, outboxFirstRetry), outboxMaxRetry)
				o.due = now.Add(o.delay)
				return sent, err
			}
			o.byConv[conv] = slices.Delete(o.byConv[conv], 0, 1)
			o.n--
			sent++
		}
		delete(o.byConv, conv)
		o.order = o.order[1:]
	}
	o.delay, o.due = 0, time.Time{}
	return sent, nil
}
