package bot

import (
	"context"
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
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/handoff"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/kb"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llm"
	"github.com/frontdesk-chat/frontdesk/aibridge/internal/stt"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// plan is the reply decided for one customer message.
type plan struct {
	text    string // the final message ("" for none)
	source  string // model, kb, fallback, handoff
	outcome string // HeaderOutcome value
	handoff string // handoff reason, "" for none
	summary string // handoff summary
}

// job is one customer message being answered.
type job struct {
	tenant *fd.Tenant
	conv   string
	msg    *fd.Message
	seq    uint64
	state  convo.State
	lang   string
	turns  []convo.Turn // earlier messages, oldest first
}

// answer decides and publishes the reply to customer message m (stream sequence meta). It
// returns the outcome for metrics; an error means "retry later".
func (b *Bot) answer(ctx context.Context, tenantID, conv string, m *fd.Message, meta *jetstream.MsgMetadata) (string, error) {
	t, ok := b.d.Tenants.Get(tenantID)
	if !ok {
		// An unknown tenant is refused, never guessed.
		return "unknown_tenant", nil
	}
	st, err := convo.Get(ctx, b.d.Conversations, tenantID, conv)
	if errors.Is(err, convo.ErrNotFound) {
		return "skipped_state", nil
	}
	if err != nil {
		return "", err
	}
	if st.Conv.GetState() != frames.StateBot {
		return "skipped_state", nil
	}
	if strings.TrimSpace(m.GetText()) == "" && m.GetAttachment() == nil {
		return "skipped_empty", nil
	}
	if meta.NumDelivered > 1 {
		done, err := b.answered(ctx, tenantID, conv, m.GetId(), meta.Sequence.Stream)
		if err != nil {
			return "", err
		}
		if done {
			return "duplicate", nil
		}
	}
	bot := t.GetBot()
	j := &job{tenant: t, conv: conv, msg: m, seq: meta.Sequence.Stream, state: st}
	j.lang = language(m.GetText(), st.Conv.GetLanguage(), t.GetLocale())
	n := int(max(bot.GetHistoryTurns(), 2*bot.GetHandoffAfterFailures()+2))
	if j.turns, err = b.d.History.Turns(ctx, tenantID, conv, j.seq-1, n); err != nil {
		return "", err
	}

	gctx, release := b.d.Fence.Guard(ctx, subjects.ConversationKey(tenantID, conv), st.Revision)
	defer release()
	p, err := b.decide(gctx, j)
	if convo.Fenced(gctx) {
		return b.fenced(ctx, tenantID, conv)
	}
	if err != nil {
		return "", err
	}
	return b.publish(ctx, j, p)
}

// errStillBot asks for a redelivery: the conversation changed while the reply was made but is
// still the bot's, so the question deserves an answer under the new revision.
var errStillBot = errors.New("conversation changed but is still with the bot; answering again")

// fenced settles a reply made stale by a conversation change: dropped when the conversation
// left the bot, made again when it only changed revision.
func (b *Bot) fenced(ctx context.Context, tenant, conv string) (string, error) {
	st, err := convo.Get(ctx, b.d.Conversations, tenant, conv)
	if err == nil && st.Conv.GetState() == frames.StateBot {
		return "", errStillBot
	}
	return "dropped_fenced", nil
}

// decide chooses the reply, streaming partial text when a model answers.
func (b *Bot) decide(ctx context.Context, j *job) (plan, error) {
	bot := j.tenant.GetBot()
	matcher := handoff.NewMatcher(bot.GetHandoffPhrases())
	text := j.msg.GetText()
	if j.msg.GetKind() == frames.KindAudio {
		// The bot does not pretend to understand audio: it answers the transcript when the
		// tenant has speech-to-text, and otherwise asks the customer to type or offers a person.
		words := b.transcribe(ctx, j)
		if words == "" {
			return plan{text: audioText(j.lang), source: "fallback", outcome: OutcomeUnanswered}, nil
		}
		text = words
	}
	if strings.TrimSpace(text) == "" {
		// A photo or file alone: the bot reads text only, and says so rather than stay silent.
		return plan{text: attachmentText(j.lang), source: "fallback", outcome: OutcomeUnanswered}, nil
	}
	if matcher.Wants(text) {
		return plan{text: handoffText(j.lang), source: "handoff", outcome: OutcomeHandoff,
			handoff: handoff.ReasonPhrase, summary: b.summary(ctx, j, matcher)}, nil
	}
	failures := consecutiveFailures(j.turns)
	threshold := int(bot.GetHandoffAfterFailures())
	if threshold <= 0 {
		threshold = 2
	}

	ix := b.d.Knowledge.Index(j.tenant.GetId(), bot.GetKnowledge())
	res := ix.Answer(text)
	switch {
	case res.Confident:
		b.d.Metrics.KnowledgeQueries.WithLabelValues("hit").Inc()
	case len(res.Suggestions) > 0:
		b.d.Metrics.KnowledgeQueries.WithLabelValues("weak").Inc()
	default:
		b.d.Metrics.KnowledgeQueries.WithLabelValues("miss").Inc()
	}

	client := b.model(j.tenant)
	if client == nil {
		if res.Confident {
			return plan{text: res.Text(), source: "kb", outcome: OutcomeAnswered}, nil
		}
		if failures+1 >= threshold {
			return plan{text: weakHandoffText(res), source: "handoff", outcome: OutcomeHandoff,
				handoff: handoff.ReasonBotFailures, summary: b.summary(ctx, j, matcher)}, nil
		}
		return plan{text: res.Text(), source: "kb", outcome: OutcomeUnanswered}, nil
	}

	reply, err := b.stream(ctx, client, j, ix)
	if err == nil {
		if reply.Handoff != nil {
			summary := strings.TrimSpace(reply.Handoff.Summary)
			if summary == "" {
				summary = handoff.Summarize(matcher, customerTexts(j), j.lang)
			}
			t := strings.TrimSpace(reply.Text)
			if t == "" {
				t = handoffText(j.lang)
			}
			return plan{text: t, source: "handoff", outcome: OutcomeHandoff, handoff: handoff.ReasonTool,
				summary: oneLine(summary)}, nil
		}
		return plan{text: reply.Text, source: "model", outcome: OutcomeAnswered}, nil
	}
	if ctx.Err() != nil {
		// Fenced, or the bridge is shutting down: no reply from here.
		return plan{}, errDrop
	}
	// The model is down or slow: never silence. A confident knowledge-base answer still helps;
	// otherwise say so, offer a human, and hand off once it keeps happening.
	b.d.Log.Warn("model failed, falling back", zap.String("tenant", j.tenant.GetId()), zap.String("conv", j.conv),
		zap.String("kind", string(llm.KindOf(err))), zap.Error(err))
	if res.Confident {
		return plan{text: res.Text() + "\n\n" + kb.OfferHuman(j.lang), source: "kb", outcome: OutcomeAnswered}, nil
	}
	if failures+1 >= threshold {
		return plan{text: modelDownText(j.lang) + " " + handoffText(j.lang), source: "handoff", outcome: OutcomeHandoff,
			handoff: handoff.ReasonModelDown, summary: handoff.Summarize(matcher, customerTexts(j), j.lang)}, nil
	}
	return plan{text: modelDownText(j.lang) + "\n\n" + res.Text(), source: "fallback", outcome: OutcomeUnanswered}, nil
}

// model returns the tenant's model client, or nil when the tenant has no model (the
// knowledge-base answerer then replies).
func (b *Bot) model(t *fd.Tenant) *llm.Client {
	s, ok := ModelSettings(b.cfg.Model, t, b.d.Getenv)
	if !ok {
		return nil
	}
	return b.d.Models.Get(t.GetId(), s)
}

// ModelSettings are the model settings of tenant t on top of the process-wide base settings;
// false when the tenant has no model endpoint. The API key is read from the environment
// variable the tenant names (never stored in the tenant config).
func ModelSettings(base llm.Settings, t *fd.Tenant, getenv func(string) string) (llm.Settings, bool) {
	m := t.GetBot().GetModel()
	if m.GetEndpoint() == "" {
		return llm.Settings{}, false
	}
	s := base
	s.Endpoint = m.GetEndpoint()
	s.Model = m.GetName()
	if env := m.GetApiKeyEnv(); env != "" && getenv != nil {
		s.APIKey = getenv(env)
	}
	s.Temperature = m.GetTemperature()
	s.MaxTokens = int(m.GetMaxTokens())
	s.Timeout = time.Duration(m.GetTimeoutS()) * time.Second
	s.MaxConcurrency = int(m.GetMaxConcurrency())
	return s, true
}

// stream asks the model, publishing partial frames on the live subject as text arrives.
func (b *Bot) stream(ctx context.Context, c *llm.Client, j *job, ix *kb.Index) (llm.Reply, error) {
	req := llm.Request{Messages: prompt(j, ix), OfferHandoff: true}
	id := replyID(j.msg.GetId())
	live := subjects.Live(j.tenant.GetId(), j.conv)
	from := b.participant()
	var mu sync.Mutex
	p := &partials{interval: b.cfg.PartialInterval}
	onText := func(text string) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		f := p.next(text, now)
		if f == nil {
			return
		}
		data, err := proto.Marshal(partialFrame(f, id, j.conv, from, now))
		if err == nil {
			err = b.nc.Publish(live, data)
		}
		if err != nil {
			b.d.Log.Debug("publish partial", zap.Error(err))
		}
	}
	reply, err := c.Stream(ctx, req, onText)
	b.d.Metrics.Tokens.WithLabelValues("prompt").Add(float64(reply.PromptTokens))
	b.d.Metrics.Tokens.WithLabelValues("completion").Add(float64(reply.CompletionTokens))
	if reply.FirstToken > 0 {
		b.d.Metrics.FirstToken.Observe(reply.FirstToken.Seconds())
	}
	if err != nil {
		if k := llm.KindOf(err); k != llm.KindCanceled {
			b.d.Metrics.ModelRequests.WithLabelValues("error").Inc()
			b.d.Metrics.ModelErrors.WithLabelValues(string(k)).Inc()
		}
		return reply, err
	}
	b.d.Metrics.ModelRequests.WithLabelValues("ok").Inc()
	return reply, nil
}

// maxPassages is how many knowledge-base articles go into the model's prompt.
const maxPassages = 3

// prompt is the system prompt, the matching knowledge-base passages, the last turns and the
// customer's message.
func prompt(j *job, ix *kb.Index) []llm.Message {
	bot := j.tenant.GetBot()
	var sys strings.Builder
	if p := strings.TrimSpace(bot.GetSystemPrompt()); p != "" {
		sys.WriteString(p)
	} else {
		name := j.tenant.GetName()
		if name == "" {
			name = j.tenant.GetId()
		}
		fmt.Fprintf(&sys, "You are the customer-service assistant of %s. Answer briefly and only with facts "+
			"from the knowledge base below. If you cannot help, or the customer asks for a person, call the "+
			"handoff tool.", name)
	}
	sys.WriteString("\nReply in the customer's language.")
	if hits := ix.Search(j.msg.GetText(), maxPassages); len(hits) > 0 {
		sys.WriteString("\n\nKnowledge base:\n")
		for _, h := range hits {
			fmt.Fprintf(&sys, "\n### %s\n%s\n", h.Article.Title, strings.TrimSpace(h.Article.Answer))
		}
	}
	msgs := []llm.Message{{Role: llm.RoleSystem, Content: sys.String()}}
	for _, t := range j.turns {
		switch t.Msg.GetFrom().GetRole() {
		case frames.RoleCustomer:
			msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: t.Msg.GetText()})
		case frames.RoleBot:
			msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: t.Msg.GetText()})
		case frames.RoleAgent:
			// A conversation sent back to the bot keeps what the agent said, marked as such.
			msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: "[agent] " + t.Msg.GetText()})
		}
	}
	hist := int(bot.GetHistoryTurns())
	if hist > 0 && len(msgs)-1 > hist {
		msgs = append(msgs[:1], msgs[len(msgs)-hist:]...)
	}
	return append(msgs, llm.Message{Role: llm.RoleUser, Content: j.msg.GetText()})
}

// summary is the handoff summary: the model's one-liner when the tenant has a healthy model,
// else an extractive summary of the customer's messages.
func (b *Bot) summary(ctx context.Context, j *job, m *handoff.Matcher) string {
	extractive := handoff.Summarize(m, customerTexts(j), j.lang)
	c := b.model(j.tenant)
	if c == nil || c.BreakerOpen() {
		return extractive
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.SummaryTimeout)
	defer cancel()
	var conv strings.Builder
	for _, t := range append(j.turns, convo.Turn{Msg: j.msg}) {
		fmt.Fprintf(&conv, "%s: %s\n", t.Msg.GetFrom().GetRole(), t.Msg.GetText())
	}
	reply, err := c.Stream(ctx, llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "Summarise this customer-service conversation in one sentence for the human " +
			"agent taking it over: what the customer needs. Write in the customer's language."},
		{Role: llm.RoleUser, Content: conv.String()},
	}}, func(string) {})
	if err != nil || strings.TrimSpace(reply.Text) == "" {
		return extractive
	}
	return oneLine(reply.Text)
}

func customerTexts(j *job) []string {
	var out []string
	for _, t := range j.turns {
		if t.Msg.GetFrom().GetRole() == frames.RoleCustomer {
			out = append(out, t.Msg.GetText())
		}
	}
	return append(out, j.msg.GetText())
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}

// consecutiveFailures counts the bot's unanswered replies since its last answered one (or since
// a human or the system spoke).
func consecutiveFailures(turns []convo.Turn) int {
	n := 0
	for i := len(turns) - 1; i >= 0; i-- {
		switch turns[i].Msg.GetFrom().GetRole() {
		case frames.RoleCustomer:
			continue
		case frames.RoleBot:
			if turns[i].Header.Get(HeaderOutcome) == OutcomeUnanswered {
				n++
				continue
			}
		}
		return n
	}
	return n
}

// answered reports whether the reply to customer message id is already stored after seq (a
// redelivery of a message whose ack was lost).
func (b *Bot) answered(ctx context.Context, tenant, conv, id string, seq uint64) (bool, error) {
	later, err := b.d.History.After(ctx, tenant, conv, seq, 100)
	if err != nil {
		return false, err
	}
	for _, t := range later {
		if t.Msg.GetFrom().GetRole() == frames.RoleBot && t.Msg.GetReplyTo() == id {
			return true, nil
		}
	}
	return false, nil
}

// publish fences and posts the reply, then the handoff command if any.
func (b *Bot) publish(ctx context.Context, j *job, p plan) (string, error) {
	tenant := j.tenant.GetId()
	// The contract's fencing rule: re-read the conversation; if it left `bot` or its revision
	// moved, the reply is dropped.
	now, err := convo.Get(ctx, b.d.Conversations, tenant, j.conv)
	if errors.Is(err, convo.ErrNotFound) {
		return "dropped_fenced", nil
	}
	if err != nil {
		return "", err
	}
	if now.Conv.GetState() != frames.StateBot {
		return "dropped_fenced", nil
	}
	if now.Revision != j.state.Revision {
		return "", errStillBot
	}
	if p.text != "" {
		m := &fd.Message{
			Id: replyID(j.msg.GetId()), Tenant: tenant, Conv: j.conv, From: b.participant(),
			Kind: frames.KindText, Text: frames.CleanText(p.text), CreatedAt: timestamppb.Now(),
			Revision: j.state.Revision, ReplyTo: j.msg.GetId(), Trace: tracing.InjectMap(ctx, nil),
		}
		data, err := proto.Marshal(m)
		if err != nil {
			return "", fmt.Errorf("encode reply: %w", err)
		}
		msg := &nats.Msg{Subject: subjects.Messages(tenant, j.conv), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, "bot/"+j.msg.GetId())
		msg.Header.Set(HeaderOutcome, p.outcome)
		tracing.InjectHeader(ctx, msg.Header)
		if _, err := b.d.JS.PublishMsg(ctx, msg); err != nil {
			return "", fmt.Errorf("publish reply: %w", err)
		}
		b.d.Metrics.Replies.WithLabelValues(p.source).Inc()
	}
	if p.handoff == "" {
		return "answered", nil
	}
	cmd := &fd.Command{
		Id: "bot-handoff/" + j.msg.GetId(), Tenant: tenant, Conv: j.conv, Type: frames.TypeHandoff,
		Actor: b.participant(), Reason: p.handoff, Summary: p.summary, Language: j.lang,
		Priority: j.state.Conv.GetPriority(), Skills: j.state.Conv.GetSkills(), At: timestamppb.Now(),
		Customer: j.state.Conv.GetCustomer(),
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		return "", fmt.Errorf("encode handoff: %w", err)
	}
	msg := &nats.Msg{Subject: subjects.ConvCommands(tenant, j.conv), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, cmd.Id)
	tracing.InjectHeader(ctx, msg.Header)
	if _, err := b.d.JS.PublishMsg(ctx, msg); err != nil {
		return "", fmt.Errorf("publish handoff: %w", err)
	}
	b.d.Metrics.Handoffs.WithLabelValues(p.handoff).Inc()
	return "handoff", nil
}

func (b *Bot) participant() *fd.Participant {
	return &fd.Participant{Id: frames.RoleBot, Role: frames.RoleBot, Name: b.cfg.BotName}
}

// language picks the reply language: the message's script, else the conversation's language,
// else the tenant's locale.
func language(text, conv, locale string) string {
	if l := kb.DetectLanguage(text); l != "" {
		return l
	}
	for _, l := range []string{conv, locale} {
		if strings.HasPrefix(l, "zh") {
			return "zh"
		}
		if l != "" {
			return "en"
		}
	}
	return "en"
}

func handoffText(lang string) string {
	if lang == "zh" {
		return "正在为您转接人工客服，请稍候。"
	}
	return "I'm connecting you with a human agent. Please hold on, someone will be with you shortly."
}

func attachmentText(lang string) string {
	if lang == "zh" {
		return "我只能阅读文字消息。请用文字描述您的问题。" + kb.OfferHuman("zh")
	}
	return "I can only read text. Please describe your question in a message. " + kb.OfferHuman("en")
}

func audioText(lang string) string {
	if lang == "zh" {
		return "我暂时无法收听语音消息。请用文字输入您的问题。" + kb.OfferHuman("zh")
	}
	return "I can't listen to voice messages. Please type your question. " + kb.OfferHuman("en")
}

// transcribe turns j's voice message into text with the tenant's speech-to-text endpoint and
// stores the transcript beside it (a transcript message replying to it, for agents and the
// record). It returns "" when the tenant has none or it fails: the caller then says the bot
// cannot listen.
func (b *Bot) transcribe(ctx context.Context, j *job) string {
	cfg := j.tenant.GetBot().GetTranscription()
	if cfg.GetEndpoint() == "" || b.d.Audio == nil || b.d.STT == nil {
		return ""
	}
	log := b.d.Log.With(zap.String("tenant", j.tenant.GetId()), zap.String("conv", j.conv), zap.String("message", j.msg.GetId()))
	audio, typ, err := b.d.Audio(ctx, j.tenant.GetId(), j.msg.GetAttachment().GetId())
	if err != nil {
		log.Warn("voice message unreadable", zap.Error(err))
		b.d.Metrics.Transcriptions.WithLabelValues("unreadable").Inc()
		return ""
	}
	text, err := b.d.STT.Transcribe(ctx, stt.Request{Endpoint: cfg.GetEndpoint(), Model: cfg.GetModel(),
		APIKey: b.d.Getenv(cfg.GetApiKeyEnv()), Name: j.msg.GetAttachment().GetName(), Type: typ, Audio: audio,
		Timeout: time.Duration(cfg.GetTimeoutS()) * time.Second})
	if err != nil || text == "" {
		log.Warn("transcription failed", zap.Error(err))
		b.d.Metrics.Transcriptions.WithLabelValues("failed").Inc()
		return ""
	}
	m := &fd.Message{
		Id: transcriptID(j.msg.GetId()), Tenant: j.tenant.GetId(), Conv: j.conv, From: b.participant(),
		Kind: frames.KindTranscript, Text: frames.CleanText(text), CreatedAt: timestamppb.Now(), ReplyTo: j.msg.GetId(),
		Trace: tracing.InjectMap(ctx, nil),
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return ""
	}
	msg := &nats.Msg{Subject: subjects.Messages(j.tenant.GetId(), j.conv), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "transcript/"+j.msg.GetId())
	tracing.InjectHeader(ctx, msg.Header)
	if _, err := b.d.JS.PublishMsg(ctx, msg); err != nil {
		log.Warn("store transcript", zap.Error(err))
	}
	b.d.Metrics.Transcriptions.WithLabelValues("ok").Inc()
	return m.GetText()
}

func modelDownText(lang string) string {
	if lang == "zh" {
		return "抱歉，智能助手暂时无法回答。"
	}
	return "Sorry, our assistant can't answer right now."
}

func weakHandoffText(res kb.Result) string {
	if res.Language == "zh" {
		return "抱歉，我没能回答您的问题。" + handoffText("zh")
	}
	return "Sorry, I couldn't answer your question. " + handoffText("en")
}
