// Package llmtest is an in-process HTTP server that speaks the OpenAI chat-completions streaming
// protocol byte for byte (Server-Sent Events: `data: {chunk json}\n\n` lines, tool-call deltas,
// a usage chunk, then `data: [DONE]\n\n`), scripted per request. Tests use it in place of a
// real model backend.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is what the server received.
type Request struct {
	// Model is the requested model.
	Model string `json:"model"`
	// Messages are the prompt.
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	// Stream is true for streaming requests.
	Stream bool `json:"stream"`
	// Tools are the offered tools.
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	// Temperature and MaxTokens as sent.
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
	// Auth is the Authorization header.
	Auth string `json:"-"`
}

// Prompt is the whole prompt as one string, for substring assertions.
func (r Request) Prompt() string {
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString(m.Role + ": " + m.Content + "\n")
	}
	return b.String()
}

// Response scripts one answer.
type Response struct {
	// Status, when not 0 or 200, answers with this status and an OpenAI error body.
	Status int
	// Delay is waited before answering (a slow model).
	Delay time.Duration
	// Chunks are the text deltas, each sent as one SSE event.
	Chunks []string
	// ChunkDelay is waited between chunks.
	ChunkDelay time.Duration
	// Hold, when not nil, is waited on after the first chunk (a model still streaming).
	Hold <-chan struct{}
	// HandoffSummary, when not empty, streams a `handoff` tool call with this summary, its
	// arguments split over several deltas as real servers do.
	HandoffSummary string
	// PromptTokens and CompletionTokens go in the final usage chunk.
	PromptTokens, CompletionTokens int
}

// Text is a Response that streams text in word-sized chunks.
func Text(text string) Response {
	chunks := strings.SplitAfter(text, " ")
	return Response{Chunks: chunks, PromptTokens: 42, CompletionTokens: len(chunks)}
}

// Server is the fake backend.
type Server struct {
	srv      *httptest.Server
	mu       sync.Mutex
	script   func(n int, req Request) Response
	reqs     []Request
	started  chan struct{}
	canceled chan struct{}
}

// New starts a server answering request number n (from 0) with script(n, req). It stops when
// the test ends.
func New(t testing.TB, script func(n int, req Request) Response) *Server {
	s := &Server{script: script, started: make(chan struct{}, 1024), canceled: make(chan struct{}, 1024)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to configure as the endpoint (ends in /v1).
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Started receives once per request, when the request arrives.
func (s *Server) Started() <-chan struct{} { return s.started }

// Canceled receives once per request the client abandoned while the server was waiting (a
// delay, a chunk delay or a hold).
func (s *Server) Canceled() <-chan struct{} { return s.canceled }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Auth = r.Header.Get("Authorization")
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	select {
	case s.started <- struct{}{}:
	default:
	}
	resp := s.script(n, req)
	wait := func(c <-chan time.Time) bool { return waitFor(s, r, c) }
	hold := func(c <-chan struct{}) bool { return waitFor(s, r, c) }
	if resp.Delay > 0 && !wait(time.After(resp.Delay)) {
		return
	}
	if resp.Status != 0 && resp.Status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.Status)
		fmt.Fprintf(w, `{"error":{"message":"scripted failure","type":"server_error","param":null,"code":null}}`)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	id := fmt.Sprintf("chatcmpl-%d", n)
	event := func(choices string, usage string) {
		fmt.Fprintf(w, `data: {"id":%q,"object":"chat.completion.chunk","created":1700000000,"model":%q,"system_fingerprint":null,"choices":[%s]%s}`+"\n\n",
			id, req.Model, choices, usage)
		fl.Flush()
	}
	choice := func(delta, finish string) string {
		return fmt.Sprintf(`{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}`, delta, finish)
	}
	event(choice(`{"role":"assistant","content":"","refusal":null}`, "null"), "")
	for i, c := range resp.Chunks {
		if i > 0 && resp.ChunkDelay > 0 && !wait(time.After(resp.ChunkDelay)) {
			return
		}
		b, _ := json.Marshal(c)
		event(choice(`{"content":`+string(b)+`}`, "null"), "")
		if i == 0 && resp.Hold != nil && !hold(resp.Hold) {
			return
		}
	}
	finish := `"stop"`
	if resp.HandoffSummary != "" {
		args, _ := json.Marshal(map[string]string{"summary": resp.HandoffSummary, "reason": "customer needs a human"})
		a := string(args)
		half := len(a) / 2
		event(choice(`{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"handoff","arguments":""}}]}`, "null"), "")
		for _, part := range []string{a[:half], a[half:]} {
			pb, _ := json.Marshal(part)
			event(choice(`{"tool_calls":[{"index":0,"function":{"arguments":`+string(pb)+`}}]}`, "null"), "")
		}
		finish = `"tool_calls"`
	}
	event(choice(`{}`, finish), "")
	event("", fmt.Sprintf(`,"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`,
		resp.PromptTokens, resp.CompletionTokens, resp.PromptTokens+resp.CompletionTokens))
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

// waitFor returns false, and reports a cancellation, if the client went away first.
func waitFor[T any](s *Server, r *http.Request, c <-chan T) bool {
	select {
	case <-c:
		return true
	case <-r.Context().Done():
		select {
		case s.canceled <- struct{}{}:
		default:
		}
		return false
	}
}
