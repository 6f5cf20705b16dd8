// Package llm talks to OpenAI-compatible chat-completions backends (OpenAI, Azure OpenAI, vLLM,
// Ollama, llama.cpp server) through github.com/openai/openai-go, streaming the reply and
// recognising the `handoff` tool call. Each model configuration gets its own client with a
// concurrency limit, retries with backoff before the first token, and a circuit breaker, so a
// dead backend fails fast instead of holding every conversation for its full timeout.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Settings configure one backend.
type Settings struct {
	// Endpoint is the base URL, e.g. https://api.openai.com/v1.
	Endpoint string
	// Model is the model name.
	Model string
	// APIKey is the key (read from the environment variable the tenant names).
	APIKey string
	// Temperature for sampling (0: the backend's default).
	Temperature float64
	// MaxTokens of a reply (0: the backend's default).
	MaxTokens int
	// Timeout bounds one attempt, first byte to last (default 30s).
	Timeout time.Duration
	// FirstTokenTimeout bounds the wait for the first streamed token of an attempt; a model
	// that says nothing for this long is treated as down (default: Timeout).
	FirstTokenTimeout time.Duration
	// MaxConcurrency bounds requests in flight (default 8).
	MaxConcurrency int
	// Retries is how many times a failed attempt is retried before anything was streamed
	// (default 0: none).
	Retries int
	// Backoff is the first retry delay, doubled each retry, with jitter (default 200ms).
	Backoff time.Duration
	// BreakerFailures is the number of consecutive failed requests that opens the circuit
	// breaker (default 5).
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before letting a probe through
	// (default 30s).
	BreakerCooldown time.Duration
	// Tracer records a span per model call, under the span in the call's context; the zero
	// Tracer (tracing off) costs nothing.
	Tracer tracing.Tracer
}

func (s Settings) withDefaults() Settings {
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
	if s.FirstTokenTimeout <= 0 || s.FirstTokenTimeout > s.Timeout {
		s.FirstTokenTimeout = s.Timeout
	}
	if s.MaxConcurrency <= 0 {
		s.MaxConcurrency = 8
	}
	if s.Retries < 0 {
		s.Retries = 0
	}
	if s.Backoff <= 0 {
		s.Backoff = 200 * time.Millisecond
	}
	if s.BreakerFailures <= 0 {
		s.BreakerFailures = 5
	}
	if s.BreakerCooldown <= 0 {
		s.BreakerCooldown = 30 * time.Second
	}
	return s
}

// Role of a Message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of the prompt.
type Message struct {
	// Role is system, user or assistant.
	Role string
	// Content is the text.
	Content string
}

// Request is one chat completion.
type Request struct {
	// Messages are the prompt, oldest first.
	Messages []Message
	// OfferHandoff offers the model the `handoff` tool.
	OfferHandoff bool
}

// Handoff is the model's call of the handoff tool.
type Handoff struct {
	// Summary is the model's one-line summary of the conversation for the agent.
	Summary string `json:"summary"`
	// Reason is the model's reason, if it gave one.
	Reason string `json:"reason"`
}

// Reply is a finished completion.
type Reply struct {
	// Text is the reply text (may be empty when the model only called a tool).
	Text string
	// Handoff is set when the model called the handoff tool.
	Handoff *Handoff
	// PromptTokens and CompletionTokens are the usage the backend reported (0 if it did not).
	PromptTokens, CompletionTokens int64
	// FirstToken is the latency from the request to the first streamed token (text or tool).
	FirstToken time.Duration
	// Attempts is how many attempts were made.
	Attempts int
}

// HandoffTool is the name of the function the model calls to hand the conversation to a human.
const HandoffTool = "handoff"

// Kind classifies an error for metrics and for the choice of fallback.
type Kind string

// Error kinds.
const (
	KindTimeout     Kind = "timeout"
	KindServer      Kind = "server_error"
	KindRateLimited Kind = "rate_limited"
	KindClient      Kind = "client_error"
	KindNetwork     Kind = "network"
	KindBreakerOpen Kind = "breaker_open"
	KindCanceled    Kind = "canceled"
	KindBadResponse Kind = "bad_response"
)

// Error is a failed completion.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// Partial is true when some text had been streamed before the failure (no retry then:
	// the customer has seen it).
	Partial bool
	// Err is the cause.
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("model %s: %v", e.Kind, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err (KindBadResponse when it is not an *Error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindBadResponse
}

// errFirstToken marks an attempt that produced nothing within FirstTokenTimeout.
var errFirstToken = errors.New("no token within the first-token timeout")

// Client is one backend configuration. It is safe for concurrent use.
type Client struct {
	s       Settings
	api     openai.Client
	sem     chan struct{}
	breaker *gobreaker.CircuitBreaker[Reply]
	sleep   func(context.Context, time.Duration) error
}

// New returns a client for s. httpClient may be nil (http.DefaultClient's transport is used).
func New(s Settings, httpClient *http.Client) *Client {
	s = s.withDefaults()
	opts := []option.RequestOption{
		option.WithBaseURL(s.Endpoint),
		// Retries are ours: only before the first token, and counted by the breaker.
		option.WithMaxRetries(0),
	}
	// Local backends (Ollama, llama.cpp) take any key; the library wants one.
	key := s.APIKey
	if key == "" {
		key = "none"
	}
	opts = append(opts, option.WithAPIKey(key))
	if httpClient != nil {
		opts = append(opts, option.WithHTTPClient(httpClient))
	}
	c := &Client{
		s:     s,
		api:   openai.NewClient(opts...),
		sem:   make(chan struct{}, s.MaxConcurrency),
		sleep: sleepCtx,
	}
	c.breaker = gobreaker.NewCircuitBreaker[Reply](gobreaker.Settings{
		Name:        s.Endpoint + " " + s.Model,
		MaxRequests: 1,
		Timeout:     s.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(s.BreakerFailures) },
		// The caller giving up (fencing, shutdown) says nothing about the backend's health.
		IsExcluded: func(err error) bool { return KindOf(err) == KindCanceled },
	})
	return c
}

// Settings returns the client's effective settings.
func (c *Client) Settings() Settings { return c.s }

// BreakerOpen reports whether the circuit breaker is refusing requests.
func (c *Client) BreakerOpen() bool { return c.breaker.State() == gobreaker.StateOpen }

// Stream runs req, calling onText with the full text so far each time more arrives. It retries
// failed attempts with backoff as long as nothing was streamed. Errors are *Error.
func (c *Client) Stream(ctx context.Context, req Request, onText func(text string)) (reply Reply, err error) {
	ctx, span := c.s.Tracer.Start(ctx, "model call", trace.SpanKindClient)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("gen_ai.request.model", c.s.Model))
		defer func() {
			span.SetAttributes(attribute.Int64("gen_ai.usage.input_tokens", reply.PromptTokens),
				attribute.Int64("gen_ai.usage.output_tokens", reply.CompletionTokens), attribute.Int("frontdesk.attempts", reply.Attempts))
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, string(KindOf(err)))
			}
			span.End()
		}()
	}
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return Reply{}, &Error{Kind: KindCanceled, Err: ctx.Err()}
	}
	reply, err = c.breaker.Execute(func() (Reply, error) {
		var last error
		for attempt := 0; attempt <= c.s.Retries; attempt++ {
			if attempt > 0 {
				d := c.s.Backoff << (attempt - 1)
				d += time.Duration(rand.Int64N(int64(d)/2 + 1))
				if err := c.sleep(ctx, d); err != nil {
					return Reply{}, &Error{Kind: KindCanceled, Err: err}
				}
			}
			r, err := c.attempt(ctx, req, onText)
			r.Attempts = attempt + 1
			if err == nil {
				return r, nil
			}
			last = err
			var e *Error
			if errors.As(err, &e) && (e.Partial || !retryable(e.Kind)) {
				return r, err
			}
		}
		return Reply{}, last
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return Reply{}, &Error{Kind: KindBreakerOpen, Err: err}
	}
	return reply, err
}

func retryable(k Kind) bool {
	switch k {
	case KindTimeout, KindServer, KindRateLimited, KindNetwork, KindBadResponse:
		return true
	}
	return false
}

func (c *Client) params(req Request) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:         shared.ChatModel(c.s.Model),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		case RoleAssistant:
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		default:
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		}
	}
	if c.s.Temperature > 0 {
		p.Temperature = openai.Float(c.s.Temperature)
	}
	if c.s.MaxTokens > 0 {
		// max_tokens rather than max_completion_tokens: every compatible server knows it.
		p.MaxTokens = openai.Int(int64(c.s.MaxTokens))
	}
	if req.OfferHandoff {
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: HandoffTool,
			Description: openai.String("Hand the conversation to a human support agent. Call it when the customer " +
				"asks for a person, is upset, or when you cannot help with their request."),
			Parameters: shared.FunctionParameters{
				"type": "object",
				"properties": map[string]any{
					"summary": map[string]any{"type": "string", "description": "One sentence summarising the customer's issue for the agent."},
					"reason":  map[string]any{"type": "string", "description": "Why a human is needed."},
				},
				"required": []string{"summary"},
			},
		})}
	}
	return p
}

type toolCall struct {
	name string
	args strings.Builder
}

// attempt makes one streamed request.
func (c *Client) attempt(ctx context.Context, req Request, onText func(string)) (Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.Timeout)
	defer cancel()
	// The first-token watchdog cancels the attempt if the model stays silent.
	first := make(chan struct{})
	ftCtx, ftCancel := context.WithCancelCause(ctx)
	defer ftCancel(nil)
	go func() {
		t := time.NewTimer(c.s.FirstTokenTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			ftCancel(errFirstToken)
		case <-first:
		case <-ftCtx.Done():
		}
	}()
	start := time.Now()
	stream := c.api.Chat.Completions.NewStreaming(ftCtx, c.params(req))
	defer stream.Close()
	var (
		r       Reply
		text    strings.Builder
		calls   = map[int64]*toolCall{}
		started bool
	)
	markFirst := func() {
		if !started {
			started = true
			r.FirstToken = time.Since(start)
			close(first)
		}
	}
	for stream.Next() {
		chunk := stream.Current()
		if chunk.Usage.TotalTokens > 0 || chunk.Usage.PromptTokens > 0 {
			r.PromptTokens, r.CompletionTokens = chunk.Usage.PromptTokens, chunk.Usage.CompletionTokens
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			for _, tc := range ch.Delta.ToolCalls {
				markFirst()
				call := calls[tc.Index]
				if call == nil {
					call = &toolCall{}
					calls[tc.Index] = call
				}
				if tc.Function.Name != "" {
					call.name = tc.Function.Name
				}
				call.args.WriteString(tc.Function.Arguments)
			}
			if ch.Delta.Content != "" {
				markFirst()
				text.WriteString(ch.Delta.Content)
				onText(text.String())
			}
		}
	}
	r.Text = text.String()
	if err := stream.Err(); err != nil {
		return r, classify(ctx, ftCtx, err, text.Len() > 0)
	}
	if err := ftCtx.Err(); err != nil {
		return r, classify(ctx, ftCtx, err, text.Len() > 0)
	}
	for _, call := range calls {
		if call.name != HandoffTool {
			continue
		}
		h := &Handoff{}
		if a := strings.TrimSpace(call.args.String()); a != "" {
			if err := json.Unmarshal([]byte(a), h); err != nil {
				// A malformed argument still says "hand off"; the summary comes from elsewhere.
				h = &Handoff{}
			}
		}
		r.Handoff = h
	}
	if r.Text == "" && r.Handoff == nil {
		return r, &Error{Kind: KindBadResponse, Err: errors.New("empty reply")}
	}
	return r, nil
}

// classify turns a stream error into an *Error.
func classify(attemptCtx, ftCtx context.Context, err error, partial bool) *Error {
	e := &Error{Err: err, Partial: partial}
	var apiErr *openai.Error
	var netErr net.Error
	switch {
	case errors.Is(context.Cause(ftCtx), errFirstToken):
		e.Kind, e.Err = KindTimeout, errFirstToken
	case errors.Is(attemptCtx.Err(), context.DeadlineExceeded):
		// The attempt's timeout, or a deadline of the caller: either way the model was too slow.
		e.Kind = KindTimeout
	case attemptCtx.Err() != nil:
		e.Kind = KindCanceled
	case errors.Is(err, context.Canceled):
		e.Kind = KindCanceled
	case errors.As(err, &apiErr):
		switch {
		case apiErr.StatusCode == http.StatusTooManyRequests:
			e.Kind = KindRateLimited
		case apiErr.StatusCode >= 500:
			e.Kind = KindServer
		case apiErr.StatusCode == http.StatusRequestTimeout:
			e.Kind = KindTimeout
		default:
			e.Kind = KindClient
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Kind = KindTimeout
	case errors.As(err, &netErr):
		e.Kind = KindNetwork
	default:
		e.Kind = KindBadResponse
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
