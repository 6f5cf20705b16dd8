// Package bot answers customers: it consumes the customer messages of `bot` conversations from
// the messages stream through a durable consumer shared by every replica, answers each with the
// tenant's model (streamed) or knowledge base, hands conversations to the dispatcher's queue
// when that is what the customer needs, and fences every reply against the conversation's
// revision so nothing is posted after a human took over.
package bot

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/convo"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/kb"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llm"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/stt"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Durable is the name of the bridge's consumer on the messages stream, shared by all replicas
// (deploy/natsauth grants exactly this name).
const Durable = subjects.DurableAIBridge

// Service is the bridge's name in dead letters.
const Service = "aibridge"

// HeaderOutcome is the NATS header on each stored bot reply saying how the bridge judged its own
// answer (frames.HeaderBotOutcome). Consecutive failures are counted from the stream by reading
// it back, so the count is shared by all replicas and survives restarts without the bridge
// writing the dispatcher's conversations bucket.
const HeaderOutcome = frames.HeaderBotOutcome

// Outcomes of a reply (HeaderOutcome values).
const (
	OutcomeAnswered   = frames.BotOutcomeAnswered
	OutcomeUnanswered = frames.BotOutcomeUnanswered
	OutcomeHandoff    = frames.BotOutcomeHandoff
)

// Tenants is where tenant settings come from (*tenants.Store).
type Tenants interface {
	Get(id string) (*fd.Tenant, bool)
	// IDs and OnChange keep the consumer's tenant filter current (FilterSubjects).
	IDs() []string
	OnChange(fn func(id string, t *fd.Tenant))
}

// Config tunes the consumer and the replies.
type Config struct {
	// Workers is how many customer messages one replica answers at once.
	Workers int
	// AckWait is how long a delivery may stay unacknowledged before redelivery; the handler
	// reports progress while it works, so it only needs to cover a stalled replica.
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one message; the last failure dead-letters it.
	MaxDeliver int
	// PartialInterval is the least time between two partial frames of one reply.
	PartialInterval time.Duration
	// BotName is the display name of bot messages; empty leaves the label to the page, which
	// names the assistant in its own language.
	BotName string
	// Model holds the process-wide model settings (retries, backoff, first-token timeout,
	// breaker); the tenant's settings fill in the rest.
	Model llm.Settings
	// SummaryTimeout bounds the model call that writes a handoff summary.
	SummaryTimeout time.Duration
}

// Deps are what the bot works with.
type Deps struct {
	JS            jetstream.JetStream
	Conversations jetstream.KeyValue
	Tenants       Tenants
	Knowledge     *kb.Library
	Models        *llm.Pool
	History       *convo.History
	Fence         *convo.Fence
	Metrics       *metrics.Metrics
	Log           *zap.Logger
	// Tracer continues the trace of each customer message answered (a span per reply, the
	// model calls under it); the zero Tracer (tracing off) costs nothing.
	Tracer tracing.Tracer
	// Getenv reads the environment variables that hold tenants' model API keys.
	Getenv func(string) string
	// Audio reads a voice message's recording (its bytes and MIME type) from the attachment
	// store, for tenant only; nil when voice messages cannot be transcribed.
	Audio func(ctx context.Context, tenant, id string) ([]byte, string, error)
	// STT transcribes voice messages for tenants whose bot has a transcription endpoint.
	STT *stt.Client
	// Owners, when not nil, settles the customer messages of conversations a human owns without
	// reading the conversations bucket (ARCHITECTURE.md, AI bridge owner filter).
	Owners *convo.Owners
}

// Bot is the customer-facing answerer.
type Bot struct {
	cfg Config
	d   Deps
	nc  *nats.Conn

	wg      sync.WaitGroup
	work    context.Context // outlives the consumer, so replies in flight finish on shutdown
	stop    context.CancelFunc
	started chan struct{}
}

// New returns a bot; Run starts it.
func New(cfg Config, d Deps) *Bot {
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = time.Minute
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 5
	}
	if cfg.SummaryTimeout <= 0 {
		cfg.SummaryTimeout = 5 * time.Second
	}
	work, stop := context.WithCancel(context.Background())
	return &Bot{cfg: cfg, d: d, nc: d.JS.Conn(), work: work, stop: stop, started: make(chan struct{})}
}

// LookBack is how far back a newly created consumer starts: far enough to answer the questions
// asked while the bridge was first starting, not so far as to answer a month of history.
const LookBack = 5 * time.Minute

// ConsumerConfig is the shared durable consumer: every message of the tenants in filter
// (FilterSubjects: the tenants with a bot; customer messages cannot be told apart by subject),
// explicit acks, starting LookBack before now when it is first created, redelivery bounded by
// MaxDeliver with the handler's own backoff (NakWithDelay).
func (b *Bot) ConsumerConfig(filter []string, start time.Time) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        Durable,
		Description:    "AI bridge: customer messages of bot conversations",
		FilterSubjects: filter,
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.cfg.AckWait,
		MaxDeliver:     b.cfg.MaxDeliver,
		MaxAckPending:  32 * b.cfg.Workers,
	}
}

// consumer creates the durable consumer, or updates it keeping its original start (JetStream
// refuses to change where a consumer starts). Replicas racing to create it converge.
func (b *Bot) consumer(ctx context.Context, filter []string) (jetstream.Consumer, error) {
	for attempt := 0; ; attempt++ {
		c, err := b.d.JS.Consumer(ctx, subjects.StreamMessages, Durable)
		if err == nil {
			return b.update(ctx, c, filter)
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, err
		}
		c, err = b.d.JS.CreateConsumer(ctx, subjects.StreamMessages, b.ConsumerConfig(filter, time.Now().Add(-LookBack)))
		if err == nil || !errors.Is(err, jetstream.ErrConsumerExists) || attempt > 2 {
			return c, err
		}
	}
}

// Run consumes until ctx ends. Replies in flight then continue until Wait's deadline.
func (b *Bot) Run(ctx context.Context) error {
	// Registered before the first filter is read, so no change after it is missed; a signal
	// after Run returned only fills the buffer.
	changed := make(chan struct{}, 1)
	b.d.Tenants.OnChange(func(string, *fd.Tenant) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	var cons jetstream.Consumer
	var filter []string
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		filter = b.filter()
		if cons, err = b.consumer(ctx, filter); err == nil {
			break
		}
		// NATS may be restarting or the stream not provisioned yet: /readyz says so meanwhile.
		b.d.Log.Warn("create consumer failed; retrying", zap.Error(err), zap.Duration("in", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	sem := make(chan struct{}, b.cfg.Workers)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		// Backpressure: the consumer stops pulling while every worker is busy. Once stopping,
		// buffered messages go back at once for another replica rather than wait for a worker.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			_ = m.Nak()
			return
		}
		b.wg.Add(1)
		go func() {
			defer func() { <-sem; b.wg.Done() }()
			b.handle(b.work, m)
		}()
	}, jetstream.PullMaxMessages(b.cfg.Workers), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.d.Log.Debug("consume", zap.Error(err))
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", Durable, err)
	}
	var following sync.WaitGroup
	following.Go(func() { b.follow(ctx, changed, filter) })
	close(b.started)
	<-ctx.Done()
	following.Wait()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// Started is closed once the consumer runs.
func (b *Bot) Started() <-chan struct{} { return b.started }

// Wait waits for replies in flight; when ctx ends first they are cancelled (their messages are
// redelivered to another replica) and Wait returns ctx's error.
func (b *Bot) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		b.stop()
		return nil
	case <-ctx.Done():
		b.stop()
		<-done
		return ctx.Err()
	}
}

// handle processes one delivery and settles it (ack, nak or term) exactly once.
func (b *Bot) handle(ctx context.Context, jm jetstream.Msg) {
	meta, err := jm.Metadata()
	if err != nil {
		b.d.Log.Warn("delivery without metadata", zap.Error(err))
		_ = jm.Term()
		return
	}
	defer func() {
		// A message that makes the bridge panic would otherwise crash every replica in turn
		// until JetStream gives up on it: dead-letter it instead.
		if r := recover(); r != nil {
			b.d.Log.Error("panic answering message", zap.String("subject", jm.Subject()),
				zap.Uint64("seq", meta.Sequence.Stream), zap.Any("panic", r), zap.Stack("stack"))
			b.d.Metrics.Messages.WithLabelValues("error").Inc()
			b.deadLetter(ctx, jm, meta, fmt.Sprintf("panic: %v", r))
			_ = jm.Term()
		}
	}()
	m := &fd.Message{}
	p, perr := subjects.Parse(jm.Subject())
	if err := proto.Unmarshal(jm.Data(), m); err != nil || perr != nil || p.Kind != "msg" {
		b.deadLetter(ctx, jm, meta, fmt.Sprintf("undecodable message: %v %v", err, perr))
		b.d.Metrics.Messages.WithLabelValues("error").Inc()
		_ = jm.Term()
		return
	}
	if m.GetFrom().GetRole() != frames.RoleCustomer {
		b.d.Metrics.Messages.WithLabelValues("skipped_role").Inc()
		_ = jm.Ack()
		return
	}
	if b.ownedByHuman(p.Tenant, p.Conv) {
		b.d.Metrics.Messages.WithLabelValues("skipped_state").Inc()
		b.d.Metrics.OwnerSkips.Inc()
		_ = jm.Ack()
		return
	}
	// Progress reports keep the delivery ours while the model works.
	hb, hbStop := context.WithCancel(ctx)
	defer hbStop()
	go func() {
		t := time.NewTicker(b.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case <-t.C:
				_ = jm.InProgress()
			}
		}
	}()
	b.d.Metrics.InFlight.Inc()
	defer b.d.Metrics.InFlight.Dec()

	ctx, span := b.startReply(ctx, jm, m, p.Tenant, p.Conv)
	defer span.End()
	outcome, err := b.answer(ctx, p.Tenant, p.Conv, m, meta)
	replyDone(span, outcome, err)
	if errors.Is(err, errStillBot) && meta.NumDelivered < uint64(b.cfg.MaxDeliver) {
		b.d.Metrics.Messages.WithLabelValues("again").Inc()
		b.d.Log.Info("conversation changed during the reply; answering again", zap.String("subject", jm.Subject()),
			zap.Uint64("seq", meta.Sequence.Stream))
		_ = jm.Nak()
		return
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down past the deadline: hand the message straight back to another replica.
		b.d.Metrics.Messages.WithLabelValues("handed_back").Inc()
		_ = jm.Nak()
		return
	}
	if err != nil {
		b.d.Metrics.Messages.WithLabelValues("error").Inc()
		if meta.NumDelivered >= uint64(b.cfg.MaxDeliver) {
			b.d.Log.Error("giving up on message", zap.String("subject", jm.Subject()),
				zap.Uint64("seq", meta.Sequence.Stream), zap.Error(err))
			b.deadLetter(ctx, jm, meta, err.Error())
			_ = jm.Term()
			return
		}
		b.d.Log.Warn("answer failed, will retry", append(tracing.LogFields(ctx), zap.String("subject", jm.Subject()),
			zap.Uint64("seq", meta.Sequence.Stream), zap.Error(err))...)
		_ = jm.NakWithDelay(backoff(meta.NumDelivered))
		return
	}
	b.d.Metrics.Messages.WithLabelValues(outcome).Inc()
	if err := jm.Ack(); err != nil {
		// The side effects are idempotent; a redelivery finds the reply and acks then.
		b.d.Log.Debug("ack", zap.Error(err))
	}
}

// backoff is the redelivery delay after the n-th failed delivery: 1s, 2s, 4s ... up to 30s.
func backoff(n uint64) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

func (b *Bot) deadLetter(ctx context.Context, jm jetstream.Msg, meta *jetstream.MsgMetadata, reason string) {
	dl := &fd.DeadLetter{Service: Service, Stream: meta.Stream, Subject: jm.Subject(),
		Seq: meta.Sequence.Stream, Reason: reason, Data: jm.Data(), At: timestamppb.Now()}
	data, err := proto.Marshal(dl)
	if err != nil {
		return
	}
	msg := &nats.Msg{Subject: subjects.DeadLetters(Service), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s/%d", meta.Stream, meta.Sequence.Stream))
	if _, err := b.d.JS.PublishMsg(ctx, msg); err != nil {
		b.d.Log.Error("dead-letter", zap.Error(err))
	}
}

// replyID is the id of the bot's reply to customer message id: derived from it, so a
// redelivered message streams into the same bubble and stores under the same id.
// transcriptID is the message id of a voice message's transcript (the same on every replica).
func transcriptID(voiceMsgID string) string {
	sum := sha256.Sum256([]byte("transcript/" + voiceMsgID))
	return "m_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:20])
}

func replyID(customerMsgID string) string {
	sum := sha256.Sum256([]byte("bot/" + customerMsgID))
	return "m_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:20])
}

// errDrop marks a reply that must not be posted: the conversation changed hands, or the
// bridge is stopping.
var errDrop = errors.New("reply dropped")

// ownedByHuman reports a message that the owner set settles at once, as answer would after its
// read: a known tenant (an unknown one keeps its own outcome) and a conversation known to be
// assigned or closed.
func (b *Bot) ownedByHuman(tenant, conv string) bool {
	if _, ok := b.d.Tenants.Get(tenant); !ok {
		return false
	}
	return b.d.Owners.HumanOwned(subjects.ConversationKey(tenant, conv))
}
