// Package assist answers agents' requests for a suggested reply (request/reply on
// fd.v1.assist.<tenant>.<conv>, queue group "aibridge"): a draft from the tenant's model with
// the conversation and the matching knowledge-base articles, or the best knowledge-base answer
// when the tenant has no model or it fails. The reply goes to the asking agent only.
package assist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/bot"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/convo"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/kb"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llm"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// QueueGroup is the queue group every replica answers in.
const QueueGroup = "aibridge"

// Config tunes the responder.
type Config struct {
	// Workers bounds concurrent requests per replica.
	Workers int
	// Timeout bounds one suggestion; keep it below the gateway's request timeout. The model
	// gets all but the last tenth of it, so the knowledge-base fallback still makes it back.
	Timeout time.Duration
	// Turns is how many of the latest messages the model sees (default 20).
	Turns int
	// Model are the process-wide model settings (see bot.ModelSettings).
	Model llm.Settings
}

// Deps are what the responder works with.
type Deps struct {
	NC            *nats.Conn
	Conversations jetstream.KeyValue
	Tenants       bot.Tenants
	Knowledge     *kb.Library
	Models        *llm.Pool
	History       *convo.History
	Metrics       *metrics.Metrics
	Log           *zap.Logger
	Getenv        func(string) string
	// Tracer continues the trace of the agent's assist frame (a span per request, the model
	// call under it); the zero Tracer (tracing off) costs nothing.
	Tracer tracing.Tracer
}

// Responder answers assist requests.
type Responder struct {
	cfg Config
	d   Deps
}

// New returns a responder; Run starts it.
func New(cfg Config, d Deps) *Responder {
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 4 * time.Second
	}
	if cfg.Turns <= 0 {
		cfg.Turns = 20
	}
	return &Responder{cfg: cfg, d: d}
}

// errRefused is an assist request the agent may not make.
var errRefused = errors.New("refused")

// Run subscribes and answers until ctx ends, then drains the subscription.
func (r *Responder) Run(ctx context.Context, ready func()) error {
	sem := make(chan struct{}, r.cfg.Workers)
	sub, err := r.d.NC.QueueSubscribe(subjects.AllAssist(), QueueGroup, func(m *nats.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			r.respond(ctx, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribe assist: %w", err)
	}
	if err := r.d.NC.Flush(); err != nil {
		return fmt.Errorf("subscribe assist: %w", err)
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	// Wait for the drain to hand over the requests already received before waiting for the
	// workers: a request delivered after the workers' slots were taken would block the
	// subscription's goroutine for good.
	// Polled: a drain ended by the connection closing changes no subscription status.
	if err := sub.Drain(); err == nil {
		for sub.IsValid() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range r.cfg.Workers { // wait for requests in flight
		sem <- struct{}{}
	}
	return nil
}

func (r *Responder) respond(ctx context.Context, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	ctx, span := r.d.Tracer.Start(tracing.ExtractHeader(ctx, m.Header), "assist", trace.SpanKindServer)
	defer span.End()
	reply := &fd.AssistReply{}
	text, err := r.suggest(ctx, m)
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	switch {
	case errors.Is(err, errRefused):
		r.d.Metrics.Assist.WithLabelValues("refused").Inc()
		reply.Error = err.Error()
	case err != nil:
		r.d.Metrics.Assist.WithLabelValues("error").Inc()
		r.d.Log.Warn("assist", append(tracing.LogFields(ctx), zap.String("subject", m.Subject), zap.Error(err))...)
		reply.Error = "no suggestion available"
	default:
		r.d.Metrics.Assist.WithLabelValues("ok").Inc()
		reply.Text = text
	}
	data, err := proto.Marshal(reply)
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		r.d.Log.Debug("assist respond", zap.Error(err))
	}
}

func (r *Responder) suggest(ctx context.Context, m *nats.Msg) (string, error) {
	p, err := subjects.Parse(m.Subject)
	if err != nil || p.Kind != "assist" {
		return "", fmt.Errorf("%w: bad subject", errRefused)
	}
	req := &fd.AssistRequest{}
	if err := proto.Unmarshal(m.Data, req); err != nil {
		return "", fmt.Errorf("%w: bad request", errRefused)
	}
	// The subject is the gateway's, built from the agent's token: it wins over the payload.
	if (req.GetTenant() != "" && req.GetTenant() != p.Tenant) || (req.GetConv() != "" && req.GetConv() != p.Conv) {
		return "", fmt.Errorf("%w: request does not match its subject", errRefused)
	}
	t, ok := r.d.Tenants.Get(p.Tenant)
	if !ok {
		return "", fmt.Errorf("%w: unknown tenant", errRefused)
	}
	st, err := convo.Get(ctx, r.d.Conversations, p.Tenant, p.Conv)
	if errors.Is(err, convo.ErrNotFound) {
		return "", fmt.Errorf("%w: unknown conversation", errRefused)
	}
	if err != nil {
		return "", err
	}
	if st.Conv.GetState() != frames.StateAssigned || st.Conv.GetAgent().GetId() == "" ||
		st.Conv.GetAgent().GetId() != req.GetAgent().GetId() {
		return "", fmt.Errorf("%w: conversation is not assigned to this agent", errRefused)
	}
	last, err := r.d.History.Latest(ctx, p.Tenant, p.Conv)
	if err != nil {
		return "", err
	}
	var turns []convo.Turn
	if last > 0 {
		if turns, err = r.d.History.Turns(ctx, p.Tenant, p.Conv, last, r.cfg.Turns); err != nil {
			return "", err
		}
	}
	question := lastCustomerText(turns)
	ix := r.d.Knowledge.Index(p.Tenant, t.GetBot().GetKnowledge())

	if s, ok := bot.ModelSettings(r.cfg.Model, t, r.d.Getenv); ok {
		mctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout*9/10)
		reply, err := r.d.Models.Get(p.Tenant, s).Stream(mctx, llm.Request{Messages: prompt(t, turns, ix, question)}, func(string) {})
		cancel()
		if err == nil && strings.TrimSpace(reply.Text) != "" {
			return strings.TrimSpace(reply.Text), nil
		}
		r.d.Log.Info("assist model failed, using the knowledge base", zap.String("tenant", p.Tenant), zap.Error(err))
	}
	if question == "" {
		return "", errors.New("no customer question to answer")
	}
	hits := ix.Search(question, 1)
	if len(hits) == 0 || hits[0].Coverage < kb.MinSuggestCoverage {
		return "", errors.New("no matching article")
	}
	return strings.TrimSpace(hits[0].Article.Answer), nil
}

func lastCustomerText(turns []convo.Turn) string {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].Msg.GetFrom().GetRole() == frames.RoleCustomer {
			return turns[i].Msg.GetText()
		}
	}
	return ""
}

func prompt(t *fd.Tenant, turns []convo.Turn, ix *kb.Index, question string) []llm.Message {
	var sys strings.Builder
	name := t.GetName()
	if name == "" {
		name = t.GetId()
	}
	fmt.Fprintf(&sys, "You help a human customer-service agent of %s. Draft the agent's next reply to the "+
		"customer: short, polite, in the customer's language, using only facts from the knowledge base below "+
		"and the conversation. Output only the reply text.", name)
	if hits := ix.Search(question, 3); len(hits) > 0 {
		sys.WriteString("\n\nKnowledge base:\n")
		for _, h := range hits {
			fmt.Fprintf(&sys, "\n### %s\n%s\n", h.Article.Title, strings.TrimSpace(h.Article.Answer))
		}
	}
	var conv strings.Builder
	for _, tr := range turns {
		fmt.Fprintf(&conv, "%s: %s\n", tr.Msg.GetFrom().GetRole(), tr.Msg.GetText())
	}
	return []llm.Message{
		{Role: llm.RoleSystem, Content: sys.String()},
		{Role: llm.RoleUser, Content: "Conversation so far:\n" + conv.String() + "\nDraft the agent's reply."},
	}
}
