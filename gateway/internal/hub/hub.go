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
//
// A reconnect is caught up in one pass rather than conversation by conversation: what a
// quiet conversation missed while the gateway was cut off reveals itself only at its next
// message, and asking the stream about each of 100,000 followed conversations after every
// reconnect (of every gateway, when a NATS node restarts) would flood it. See Watch.
package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Overview is subjects.Overview: fd.ServerFrame of type presence, a full snapshot of the
	// tenant's queues. The hub keeps the latest one while the subject is followed and hands it
	// to each listener that joins (see Subscribe): the dispatcher publishes only on a change
	// and otherwise seldom, so a console that connects later would show nothing meanwhile.
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

	// Reconnect catch-up (Watch). high is the highest sequence received live on a followed
	// conversation; mark is where the next catch-up reads the stream from (see catchUp for
	// why both are sound).
	high    atomic.Int64
	mark    atomic.Int64
	based   atomic.Bool // mark was set from the stream before the first conversation started
	baseMu  sync.Mutex
	catchMu sync.Mutex // one catch-up at a time; guards entry.drops
	// catchUpHook, when set (tests), runs once a catch-up has taken the conversations over
	// and before it reads the stream.
	catchUpHook func()
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

	// mu serialises delivery: of a conversation (Messages), live or from the stream; of the
	// overviews (Overview), live or the latest handed to a new listener. It is taken before
	// Hub.mu, never while holding it.
	mu     sync.Mutex
	latest *Delivery // Overview: the last one delivered; it goes with the entry

	// Messages only.
	last     int64       // last sequence delivered
	filling  bool        // a gap fill runs; live messages wait in pending
	pending  []*Delivery // live messages held during a fill, in arrival (seq) order
	overflow bool        // pending was full: the fill reads on to the stream's end
	again    bool        // a reconnect happened during the fill: it reads the stream once more
	drops    int         // the subscription's slow-consumer drops seen by the last catch-up
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
	// CatchUpMax is the largest backlog (stream messages, of every conversation, stored since
	// the last one the hub knows it received) read in one pass after a reconnect (default
	// 1,000,000). Beyond it each followed conversation is checked on its own, Fills at a time:
	// a request per conversation instead of reading messages that mostly belong to
	// conversations other gateways follow.
	CatchUpMax int64
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
	if opts.CatchUpMax <= 0 {
		opts.CatchUpMax = 1_000_000
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
		go h.fill(e)
	}
	return nil
}

// base sets the first catch-up mark when the hub starts following its first conversation: the
// stream's last sequence then, so a fresh gateway never reads history. Every conversation
// asks for its own last message after this (concurrent starts wait here), so a message at or
// below the mark precedes the point where its conversation was picked up.
func (h *Hub) base(ctx context.Context) error {
	if h.based.Load() {
		return nil
	}
	h.baseMu.Lock()
	defer h.baseMu.Unlock()
	if h.based.Load() {
		return nil
	}
	last, err := h.streamLast(ctx)
	if err != nil {
		return err
	}
	storeMax(&h.mark, last)
	h.based.Store(true)
	return nil
}

// streamLast returns the messages stream's last sequence (one request).
func (h *Hub) streamLast(ctx context.Context) (int64, error) {
	st, err := h.messages(ctx)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", subjects.StreamMessages, err)
	}
	return int64(info.State.LastSeq), nil
}

// storeMax raises v to x.
func storeMax(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
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
	switch d.Kind {
	case Messages:
		storeMax(&h.high, d.Seq)
		h.live(e, d)
		return
	case Overview:
		h.overview(e, d)
		return
	}
	for _, l := range ls {
		l.Deliver(d)
	}
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

// ReadStream calls fn with the messages stored under subject with sequences in (after, end],
// in order, read with an ordered consumer that is deleted when done (rather than left to
// expire, so many short reads do not pile consumers up on the stream).
func ReadStream(ctx context.Context, js jetstream.JetStream, subject string, after, end int64, fn func(*fd.Message, int64)) error {
	return scan(ctx, js, subject, after, end, fillBatch, func(_ string, seq int64, data []byte) {
		pm := &fd.Message{}
		if err := proto.Unmarshal(data, pm); err != nil {
			return // undecodable: skipped, as live delivery does
		}
		fn(pm, seq)
	})
}

// scan calls fn with the subject, sequence and payload of the messages stored under filter
// with sequences in (after, end], in order, fetching batch at a time; see ReadStream.
func scan(ctx context.Context, js jetstream.JetStream, filter string, after, end int64, batch int, fn func(string, int64, []byte)) error {
	cons, err := js.OrderedConsumer(ctx, subjects.StreamMessages, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
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
		msgs, err := cons.FetchNoWait(batch)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		n := 0
		for msg := range msgs.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("metadata: %w", err)
			}
			last = int64(meta.Sequence.Stream)
			fn(msg.Subject(), last, msg.Data())
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
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
			continue
		}
		if h.nc.IsConnected() {
			seen = r
			h.catchUp(ctx)
		}
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
			if n, err := f.sub.Dropped(); err == nil && n > f.e.drops {
				f.e.drops, dropped = n, true
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
	go h.fillAll(alone)
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
		go h.fillAll(left)
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
	go h.fillAll(again)
	storeMax(&h.mark, end)
	h.log.Info("caught up after reconnect", zap.Int("conversations", len(all)), zap.Int64("from", from),
		zap.Int64("to", end), zap.Int("read", read), zap.Int("delivered", delivered),
		zap.Int("alone", len(alone)+len(again)), zap.Duration("took", time.Since(began)))
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

// Flush waits until the server processed every subscription made so far, so a publish that
// follows is seen by them.
func (h *Hub) Flush(ctx context.Context) error {
	return h.nc.FlushWithContext(ctx)
}
