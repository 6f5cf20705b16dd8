package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

func settings(url string) Settings {
	return Settings{Endpoint: url, Model: "test-model", APIKey: "sk-test", Temperature: 0.2, MaxTokens: 300,
		Timeout: 2 * time.Second, Backoff: time.Millisecond}
}

var prompt = Request{Messages: []Message{{RoleSystem, "You are Acme's assistant."}, {RoleUser, "hello"}}, OfferHandoff: true}

func TestStreamText(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return llmtest.Text("Hello! How can I help?") })
	c := New(settings(srv.URL()), nil)
	var partials []string
	r, err := c.Stream(context.Background(), prompt, func(s string) { partials = append(partials, s) })
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Hello! How can I help?" || r.Handoff != nil {
		t.Fatalf("reply %+v", r)
	}
	if len(partials) != 5 || partials[0] != "Hello! " || partials[4] != r.Text {
		t.Fatalf("partials %q", partials)
	}
	if r.PromptTokens != 42 || r.CompletionTokens != 5 || r.FirstToken <= 0 || r.Attempts != 1 {
		t.Fatalf("usage/latency %+v", r)
	}
	req := srv.Requests()[0]
	if req.Model != "test-model" || !req.Stream || req.Temperature != 0.2 || req.MaxTokens != 300 ||
		req.Auth != "Bearer sk-test" || len(req.Tools) != 1 || req.Tools[0].Function.Name != HandoffTool {
		t.Fatalf("request %+v", req)
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Content != "hello" {
		t.Fatalf("messages %+v", req.Messages)
	}
}

func TestStreamHandoffTool(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"Let me get ", "a colleague."}, HandoffSummary: "Customer wants a refund for a broken kettle."}
	})
	r, err := New(settings(srv.URL()), nil).Stream(context.Background(), prompt, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if r.Handoff == nil || r.Handoff.Summary != "Customer wants a refund for a broken kettle." || r.Text != "Let me get a colleague." {
		t.Fatalf("reply %+v (handoff %+v)", r, r.Handoff)
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resp     llmtest.Response
		settings func(*Settings)
		kind     Kind
		attempts int
	}{
		{"500 retried then fails", llmtest.Response{Status: 500}, func(s *Settings) { s.Retries = 2 }, KindServer, 3},
		{"429 rate limited", llmtest.Response{Status: 429}, nil, KindRateLimited, 1},
		{"400 is not retried", llmtest.Response{Status: 400}, func(s *Settings) { s.Retries = 2 }, KindClient, 1},
		{"slow headers time out", llmtest.Response{Delay: 5 * time.Second}, func(s *Settings) { s.Timeout = 200 * time.Millisecond }, KindTimeout, 1},
		{"silent stream hits the first-token timeout", llmtest.Response{Chunks: []string{"late"}, Hold: make(chan struct{})},
			func(s *Settings) { s.FirstTokenTimeout = 200 * time.Millisecond }, KindTimeout, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response { return tt.resp })
			s := settings(srv.URL())
			if tt.settings != nil {
				tt.settings(&s)
			}
			_, err := New(s, nil).Stream(context.Background(), prompt, func(string) {})
			if KindOf(err) != tt.kind {
				t.Fatalf("err %v: kind %s, want %s", err, KindOf(err), tt.kind)
			}
			if n := len(srv.Requests()); n != tt.attempts {
				t.Fatalf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

// The first-token watchdog must not cut a reply that started in time but streams slowly.
func TestSlowStreamAfterFirstToken(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"a", "b", "c"}, ChunkDelay: 150 * time.Millisecond}
	})
	s := settings(srv.URL())
	s.FirstTokenTimeout = 100 * time.Millisecond
	r, err := New(s, nil).Stream(context.Background(), prompt, func(string) {})
	if err != nil || r.Text != "abc" {
		t.Fatalf("reply %+v, err %v", r, err)
	}
}

func TestRetryRecovers(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, func(n int, _ llmtest.Request) llmtest.Response {
		if n == 0 {
			return llmtest.Response{Status: http.StatusBadGateway}
		}
		return llmtest.Text("ok now")
	})
	s := settings(srv.URL())
	s.Retries = 1
	r, err := New(s, nil).Stream(context.Background(), prompt, func(string) {})
	if err != nil || r.Text != "ok now" || r.Attempts != 2 {
		t.Fatalf("reply %+v, err %v", r, err)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	down := true
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return llmtest.Response{Status: 503}
		}
		return llmtest.Text("back")
	})
	s := settings(srv.URL())
	s.BreakerFailures = 2
	s.BreakerCooldown = 300 * time.Millisecond
	c := New(s, nil)
	for range 2 {
		if _, err := c.Stream(context.Background(), prompt, func(string) {}); KindOf(err) != KindServer {
			t.Fatalf("err %v", err)
		}
	}
	if !c.BreakerOpen() {
		t.Fatal("breaker closed after 2 failures")
	}
	_, err := c.Stream(context.Background(), prompt, func(string) {})
	if KindOf(err) != KindBreakerOpen || len(srv.Requests()) != 2 {
		t.Fatalf("open breaker: err %v, %d requests", err, len(srv.Requests()))
	}
	mu.Lock()
	down = false
	mu.Unlock()
	// After the cooldown one probe goes through and closes the breaker.
	testkit.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		r, err := c.Stream(context.Background(), prompt, func(string) {})
		if err != nil || r.Text != "back" {
			return fmt.Errorf("breaker not recovered: %v", err)
		}
		return nil
	})
}

// A cancelled caller (fencing, shutdown) is not the backend's fault.
func TestCancelDoesNotTripBreaker(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	srv := llmtest.New(t, func(int, llmtest.Request) llmtest.Response {
		return llmtest.Response{Chunks: []string{"x"}, Hold: hold}
	})
	defer close(hold)
	s := settings(srv.URL())
	s.BreakerFailures = 1
	c := New(s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.Stream(ctx, prompt, func(string) { cancel() })
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCanceled || !e.Partial {
		t.Fatalf("err %#v", err)
	}
	if c.BreakerOpen() {
		t.Fatal("breaker opened on cancel")
	}
	if !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("err text %q", err)
	}
}
