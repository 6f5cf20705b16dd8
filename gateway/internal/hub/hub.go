// Package hub shares NATS subscriptions between the sessions of one gateway process.
//
// A subject that many sessions need (a conversation's messages, a user's frames) is subscribed
// once per process and fanned out in process, reference-counted by listener. Core NATS
// subscriptions deliver into a few shared channels drained by a fixed set of workers, so an idle
// session costs no goroutine; a subject always maps to the same worker, which keeps per-subject
// order.
//
// Conversation messages arrive on the conversation's deliver subject, where the messages stream
// republishes every stored message with its sequence (the protocol's seq) and the previous
// sequence of the same conversation. Following a conversation is therefore one core
// subscription, not a JetStream consumer (a stream holds at most 1,000 consumers by default and
// each costs the server far more than a subscription). The previous sequence reveals a message
// the gateway missed (a slow-consumer drop, a reconnect); the hub then reads the gap from the
// stream with a short-lived ordered consumer and holds live messages meanwhile, so listeners
// see each conversation in seq order without duplicates.
package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Kind says what a subscription carries and how its payload is decoded.
type Kind uint8

// Subscription kinds.
const (
	// Messages is subjects.Deliver: fd.Message republished by the messages stream, with its
	// sequence in the headers.
	Messages Kind = iota
	// Events is subjects.Events: fd.ConversationEvent.
	Events
	// Live is subjects.Live: fd.ServerFrame (typing, partial message).
	Live
	// Reads is subjects.ConvReads: fd.ReadPosition, turned into a read frame.
	Reads
	// User is subjects.User: fd.ServerFrame for every session of a user.
	User
	// Session is subjects.Session: fd.SessionPresence announcements of a user's sessions.
	Session
	// Overview is subjects.Overview: fd.ServerFrame of type presence.
	Overview
)

var kindNames = [...]string{"messages", "events", "live", "reads", "user", "session", "overview"}

func (k Kind) String() string { return kindNames[k] }

// Listener receives deliveries. Deliver is called from a hub worker and must not block.
type Listener interface {
	Deliver(d *Delivery)
}

// Delivery is one decoded NATS message, shared by every listener of its subject. Listeners must
// not modify it.
type Delivery struct {
	// Kind is the subscription kind.
	Kind Kind
	// Conv is the conversation of conversation kinds.
	Conv string
	// Seq is the stream sequence (Messages).
	Seq int64
	// Message is the stored message (Messages).
	Message *fd.Message
	// Event is the lifecycle event (Events).
	Event *fd.ConversationEvent
	// Presence is the session announcement (Session).
	Presence *fd.SessionPresence
	// Frame is the server frame to forward (Messages, Live, Reads, User, Overview).
	Frame *fd.ServerFrame

	prev int64 // the conversation's previous sequence (Messages, live); -1 when unknown

	once [2]sync.Once
	enc  [2][]byte
}

// Encoded returns Frame encoded once for all listeners: protobuf when binary, else JSON.
func (d *Delivery) Encoded(binary bool) []byte {
	i := 0
	if binary {
		i = 1
	}
	d.once[i].Do(func() {
		if binary {
			d.enc[1], _ = frames.AppendProto(nil, d.Frame)
		} else {
			d.enc[0] = frames.AppendJSON(nil, d.Frame)
		}
	})
	return d.enc[i]
}

// Hub owns the shared subscriptions.
type Hub struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *zap.Logger
	metrics *metrics.Metrics
	opts    Options
	seed    maphash.Seed
	shards  []chan *nats.Msg
	ctx     context.Context // ends at Close: gap fills stop
	stop    context.CancelFunc
	fills   chan struct{} // bounds concurrent gap fills
	wg      sync.WaitGroup

	streamMu sync.Mutex
	stream   jetstream.Stream

	mu      sync.RWMutex
	entries map[string]*entry
}

type entry struct {
	kind      Kind
	subject   string
	conv      string
	stream    string        // the stored subject (Messages)
	ready     chan struct{} // closed once sub is set (or err)
	err       error
	sub       *nats.Subscription
	listeners []Listener // copy on write, read under Hub.mu

	// Messages only. mu serialises delivery of the conversation, live or from the stream.
	mu       sync.Mutex
	last     int64       // last sequence delivered
	filling  bool        // a gap fill runs; live messages wait in pending
	pending  []*Delivery // live messages held during a fill, in arrival (seq) order
	overflow bool        // pending was full: the fill reads on to the stream's end
}

// Options tune the hub.
type Options struct {
	// Workers is the number of delivery workers for core subscriptions (default 4).
	Workers int
	// Buffer is each worker's channel capacity (default 65536); a full channel makes NATS
	// drop messages for that subscription (a slow consumer), counted in metrics; the
	// conversations' gaps are then filled from the stream.
	Buffer int
	// Hold bounds the live messages held per conversation while a gap is filled (default
	// 1024); beyond it they are dropped and read from the stream instead.
	Hold int
	// Fills bounds the gap fills running at once (default 16), so a reconnect that checks
	// every followed conversation does not flood the server.
	Fills int
}

// New creates a hub on nc and starts its workers; Close stops them.
func New(nc *nats.Conn, log *zap.Logger, m *metrics.Metrics, opts Options) (*Hub, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 1 << 16
	}
	if opts.Hold <= 0 {
		opts.Hold = 1024
	}
	if opts.Fills <= 0 {
		opts.Fills = 16
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &Hub{nc: nc, js: js, log: log, metrics: m, opts: opts, seed: maphash.MakeSeed(), entries: map[string]*entry{},
		ctx: ctx, stop: stop, fills: make(chan struct{}, opts.Fills)}
	for range opts.Workers {
		ch := make(chan *nats.Msg, opts.Buffer)
		h.shards = append(h.shards, ch)
		h.wg.Go(func() {
			for {
				select {
				case msg := <-ch:
					h.dispatch(msg.Sub.Subject, msg)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	return h, nil
}

// Close unsubscribes everything, stops the gap fills and the workers.
func (h *Hub) Close() {
	h.mu.Lock()
	var subs []*nats.Subscription
	for subj, e := range h.entries {
		if e.sub != nil {
			subs = append(subs, e.sub)
		}
		delete(h.entries, subj)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Unsubscribe()
	}
	// The channels stay open: NATS may still hold a message for one of them.
	h.stop()
	h.wg.Wait()
}

// Subscribe adds l as a listener of subject, subscribing the process on first use. conv is the
// conversation of conversation kinds. Subscribing the same listener twice delivers twice; the
// caller keeps track.
//
// A conversation's messages (subjects.Deliver) are delivered from the moment Subscribe
// returns: whatever the stream stored after that point reaches l, in seq order.
func (h *Hub) Subscribe(kind Kind, subject, conv string, l Listener) error {
	h.mu.Lock()
	e, ok := h.entries[subject]
	if ok {
		e.listeners = append(e.listeners[:len(e.listeners):len(e.listeners)], l)
		h.mu.Unlock()
		<-e.ready
		if e.err != nil {
			h.Unsubscribe(subject, l)
			return e.err
		}
		return nil
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
		if len(e.listeners) == 0 || h.entries[subject] != e {
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

// storedSubject maps a deliver subject to the subject the stream stores the conversation under
// (both end with the tenant and conversation tokens, which contain no dots).
func storedSubject(deliver string) string {
	i := strings.LastIndexByte(deliver, '.')
	j := strings.LastIndexByte(deliver[:i], '.')
	return subjects.Messages(deliver[j+1:i], deliver[i+1:])
}

func (h *Hub) subscribe(subject string) (*nats.Subscription, error) {
	var hs maphash.Hash
	hs.SetSeed(h.seed)
	hs.WriteString(subject)
	return h.nc.ChanSubscribe(subject, h.shards[hs.Sum64()%uint64(len(h.shards))])
}

// start sets where a newly followed conversation stands: its last stored message. The request
// goes out after the subscription on the same connection, which the server handles in order,
// so every message stored after the answer's sequence is also republished to us; messages held
// meanwhile at or before it are dropped (the caller began after them).
func (h *Hub) start(e *entry) error {
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
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
	if e.overflow && !e.filling {
		e.filling = true
		go h.fill(e)
	}
	return nil
}

// messages returns the messages stream's handle, looked up on first use.
func (h *Hub) messages(ctx context.Context) (jetstream.Stream, error) {
	h.streamMu.Lock()
	defer h.streamMu.Unlock()
	if h.stream != nil {
		return h.stream, nil
	}
	st, err := h.js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", subjects.StreamMessages, err)
	}
	h.stream = st
	return st, nil
}

func (h *Hub) lastStored(ctx context.Context, subject string) (int64, error) {
	st, err := h.messages(ctx)
	if err != nil {
		return 0, err
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("last message of %s: %w", subject, err)
	}
	return int64(msg.Sequence), nil
}

// Unsubscribe removes one registration of l from subject; the last one unsubscribes the process.
func (h *Hub) Unsubscribe(subject string, l Listener) {
	h.mu.Lock()
	e, ok := h.entries[subject]
	if !ok {
		h.mu.Unlock()
		return
	}
	for i, x := range e.listeners {
		if x == l {
			ls := make([]Listener, 0, len(e.listeners)-1)
			ls = append(ls, e.listeners[:i]...)
			e.listeners = append(ls, e.listeners[i+1:]...)
			break
		}
	}
	if len(e.listeners) > 0 || e.sub == nil {
		h.mu.Unlock()
		return // still used, or the subscribing goroutine cleans up
	}
	delete(h.entries, subject)
	h.mu.Unlock()
	h.release(e.kind, e.sub)
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
	if d.Kind == Messages {
		h.live(e, d)
		return
	}
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
		go h.fill(e)
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
	for _, l := range ls {
		l.Deliver(d)
	}
}

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
			// The message before it was stored after we read the stream's end and never
			// arrived: read again, unless this has gone on long enough.
			if d.prev > e.last && d.prev > end && round < maxFillRounds {
				break
			}
			h.deliverLocked(e, d)
		}
		if i < len(held) || overflow {
			e.pending = append(held[i:len(held):len(held)], e.pending...)
			e.mu.Unlock()
			continue
		}
		e.filling = false
		e.mu.Unlock()
		return
	}
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

// ReadStream calls fn with the messages stored under subject with sequences in (after, end],
// in order, read with an ordered consumer that is deleted when done (rather than left to
// expire, so many short reads do not pile consumers up on the stream).
func ReadStream(ctx context.Context, js jetstream.JetStream, subject string, after, end int64, fn func(*fd.Message, int64)) error {
	cons, err := js.OrderedConsumer(ctx, subjects.StreamMessages, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subject},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       uint64(after + 1),
		InactiveThreshold: 30 * time.Second,
		MaxResetAttempts:  2,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = js.DeleteConsumer(dctx, subjects.StreamMessages, info.Name)
			cancel()
		}
	}()
	last := after
	for last < end {
		// No wait: the server sends what it holds and ends the request at once, rather than
		// holding it open for a full batch that a conversation seldom has.
		batch, err := cons.FetchNoWait(fillBatch)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("metadata: %w", err)
			}
			last = int64(meta.Sequence.Stream)
			pm := &fd.Message{}
			if err := proto.Unmarshal(msg.Data(), pm); err != nil {
				continue // undecodable: skipped, as live delivery does
			}
			fn(pm, last)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("fetch: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return nil
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

// Watch checks every followed conversation after the connection to NATS came back, until ctx
// ends: messages stored while the gateway was cut off were republished to nobody, and a quiet
// conversation would otherwise only notice at its next message.
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
		if r := h.nc.Stats().Reconnects; r != seen && h.nc.IsConnected() {
			seen = r
			h.checkAll()
		}
	}
}

func (h *Hub) checkAll() {
	h.mu.RLock()
	var todo []*entry
	for _, e := range h.entries {
		if e.kind == Messages && e.sub != nil {
			todo = append(todo, e)
		}
	}
	h.mu.RUnlock()
	for _, e := range todo {
		e.mu.Lock()
		busy := e.filling
		e.filling = true
		e.mu.Unlock()
		if !busy {
			go h.fill(e) // at most Options.Fills at once
		}
	}
}

// Flush waits until the server processed every subscription made so far, so a publish that
// follows is seen by them.
func (h *Hub) Flush(ctx context.Context) error {
	return h.nc.FlushWithContext(ctx)
}
