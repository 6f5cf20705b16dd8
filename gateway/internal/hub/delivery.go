// Delivery: decoding what arrives on a subscription and handing it to the listeners, with
// conversation messages in seq order.

package hub

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

func (h *Hub) dispatch(subject string, msg *nats.Msg) {
	e, ls := h.lookup(subject)
	if e == nil || (len(ls) == 0 && e.kind != Messages) {
		return
	}
	d, err := decode(e.kind, e.conv, msg)
	if err != nil {
		h.metrics.Drops.WithLabelValues("undecodable").Inc()
		h.log.Warn("undecodable message", zap.String("subject", msg.Subject), zap.Error(err))
		return
	}
	switch d.Kind {
	case Messages:
		storeMax(&h.high, d.Seq)
		h.live(e, d)
		return
	case Overview:
		h.overview(e, d)
		return
	}
	if h.opts.Tracer.Enabled() {
		h.traceDelivery(tracing.ExtractHeader(context.Background(), msg.Header), d, len(ls))
	}
	for _, l := range ls {
		l.Deliver(d)
	}
}

// traceDelivery records that d, whose publisher's trace parent is in ctx, was handed to n
// sessions. Only traced deliveries get a span: a message without trace context starts none.
func (h *Hub) traceDelivery(ctx context.Context, d *Delivery, n int) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	_, span := h.opts.Tracer.Start(ctx, "deliver "+d.Kind.String(), trace.SpanKindConsumer)
	span.SetAttributes(attribute.String("frontdesk.conv", d.Conv), attribute.Int("frontdesk.sessions", n),
		attribute.Int64("frontdesk.seq", d.Seq))
	span.End()
}

// overview keeps d as the latest overview and delivers it. The listeners are read under e.mu
// (see joinLatest): one that joined before sees d now, one that joins after gets it then.
func (h *Hub) overview(e *entry, d *Delivery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latest = d
	h.mu.RLock()
	ls := e.listeners
	h.mu.RUnlock()
	for _, l := range ls {
		l.Deliver(d)
	}
}

// live handles a message republished on a conversation's deliver subject: delivered when it
// follows the last one delivered, dropped when already delivered, held while a fill runs, and
// the start of a fill when messages before it are missing.
func (h *Hub) live(e *entry, d *Delivery) {
	e.mu.Lock()
	h.liveLocked(e, d)
	e.mu.Unlock()
}

func (h *Hub) liveLocked(e *entry, d *Delivery) {
	switch {
	case e.filling:
		if len(e.pending) < h.opts.Hold {
			e.pending = append(e.pending, d)
		} else {
			e.overflow = true
		}
	case d.Seq <= e.last:
		// Already delivered (read from the stream by a fill).
	case d.prev > e.last:
		h.metrics.Drops.WithLabelValues("gap").Inc()
		e.filling = true
		e.pending = append(e.pending[:0], d)
		h.spawn(func() { h.fill(e) })
	default:
		h.deliverLocked(e, d)
	}
}

// deliverLocked hands d to the entry's listeners; e.mu is held, so a conversation's messages
// reach listeners one at a time and in order, whether live or read from the stream.
func (h *Hub) deliverLocked(e *entry, d *Delivery) {
	e.last = d.Seq
	if d.Message.GetCreatedAt() != nil {
		h.metrics.DeliveryLatency.Observe(time.Since(d.Message.GetCreatedAt().AsTime()).Seconds())
	}
	h.mu.RLock()
	ls := e.listeners
	h.mu.RUnlock()
	if h.opts.Tracer.Enabled() {
		// The payload's trace map: a message read from the stream by a fill has no live headers.
		h.traceDelivery(tracing.ExtractMap(context.Background(), d.Message.GetTrace()), d, len(ls))
	}
	for _, l := range ls {
		l.Deliver(d)
	}
}

var errNoSeq = errors.New("no Nats-Sequence header")

func decode(kind Kind, conv string, msg *nats.Msg) (*Delivery, error) {
	d := &Delivery{Kind: kind, Conv: conv}
	switch kind {
	case Messages:
		seq, err := strconv.ParseInt(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil || seq <= 0 {
			return nil, errNoSeq
		}
		d.Seq = seq
		d.prev = -1
		if p, err := strconv.ParseInt(msg.Header.Get(lastSequenceHeader), 10, 64); err == nil {
			d.prev = p
		}
		d.Message = &fd.Message{}
		if err := proto.Unmarshal(msg.Data, d.Message); err != nil {
			return nil, err
		}
		d.Message.Conv = conv // the subject, not the payload, says where it was stored
		d.Frame = frames.MessageFrame(d.Message, d.Seq)
	case Events:
		d.Event = &fd.ConversationEvent{}
		if err := proto.Unmarshal(msg.Data, d.Event); err != nil {
			return nil, err
		}
	case Reads:
		rp := &fd.ReadPosition{}
		if err := proto.Unmarshal(msg.Data, rp); err != nil {
			return nil, err
		}
		seq := rp.GetSeq()
		d.Frame = &fd.ServerFrame{Type: frames.TypeRead, Conv: conv, From: rp.GetUser(), Seq: &seq}
	case Notes:
		d.Message = &fd.Message{}
		if err := proto.Unmarshal(msg.Data, d.Message); err != nil {
			return nil, err
		}
		d.Seq, _ = strconv.ParseInt(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		d.Message.Conv = conv
		d.Frame = frames.NoteFrame(d.Message, d.Seq)
	case Session:
		d.Presence = &fd.SessionPresence{}
		if err := proto.Unmarshal(msg.Data, d.Presence); err != nil {
			return nil, err
		}
	default:
		d.Frame = &fd.ServerFrame{}
		if err := proto.Unmarshal(msg.Data, d.Frame); err != nil {
			return nil, err
		}
		if conv != "" {
			d.Frame.Conv = conv
		}
	}
	return d, nil
}

// lastSequenceHeader carries, on a republished message, the previous sequence stored under the
// same subject (the conversation's previous message; 0 for none).
const lastSequenceHeader = "Nats-Last-Sequence"
