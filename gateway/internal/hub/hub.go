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
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
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
	// Notes is subjects.NoteDeliver: a private note (fd.Message) republished by the notes
	// stream with its sequence in Nats-Sequence, turned into a note frame. Only staff sessions
	// subscribe to it.
	Notes
)

var kindNames = [...]string{"messages", "events", "live", "reads", "user", "session", "overview", "notes"}

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
	fills   chan struct{}  // bounds concurrent gap fills
	wg      sync.WaitGroup // the hub's goroutines (spawn); Close waits for them
	spawnMu sync.Mutex     // orders spawn against Close

	streamMu sync.Mutex
	stream   jetstream.Stream

	mu      sync.RWMutex
	entries map[string]*entry
	joins   sync.Map // join marker (*nats.Msg) -> *pendingJoin

	// Reconnect catch-up (Watch). high is the highest sequence received live on a followed
	// conversation; mark is where the next catch-up reads the stream from (see catchUp for
	// why both are sound).
	high    atomic.Int64
	mark    atomic.Int64
	based   atomic.Bool // mark was set from the stream before the first conversation started
	baseMu  sync.Mutex
	catchMu sync.Mutex // one catch-up at a time; guards entry.drops
	slow    slowSet    // subscriptions NATS reported dropping messages (slow.go)
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
	joining   []Listener // listeners whose join the shard's worker has not reached yet (join.go)

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
	drops    int         // the subscription's slow-consumer drops seen by the last catch-up or fillDropped
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
	// Tracer records a span for each traced message or event handed to sessions, continuing
	// the trace its publisher started; the zero Tracer (tracing off) costs nothing.
	Tracer tracing.Tracer
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
	h.watchSlowConsumers(nc)
	for range opts.Workers {
		ch := make(chan *nats.Msg, opts.Buffer)
		h.shards = append(h.shards, ch)
		h.wg.Go(func() {
			for {
				select {
				case msg := <-ch:
					if msg.Sub == nil {
						h.joined(msg) // a join marker (join.go), not a message
						continue
					}
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
	h.spawnMu.Lock()
	h.stop() // under spawnMu: no goroutine is added to wg once Wait may have begun
	h.spawnMu.Unlock()
	h.wg.Wait()
}

// spawn runs fn on a goroutine that Close stops (through h.ctx) and waits for: the workers,
// gap fills and catch-up fills. Once the hub is closed it does nothing.
func (h *Hub) spawn(fn func()) {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.ctx.Err() != nil {
		return
	}
	h.wg.Go(fn)
}

// Flush waits until the server processed every subscription made so far, so a publish that
// follows is seen by them.
func (h *Hub) Flush(ctx context.Context) error {
	return h.nc.FlushWithContext(ctx)
}
