package browser_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeModel is an OpenAI-compatible chat completions endpoint that streams a fixed reply as
// server-sent events, byte for byte as the API does, a word group at a time with a pause, so
// the page shows the reply growing.
func fakeModel(t *testing.T, reply string, pause time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		id := fmt.Sprintf("chatcmpl-%d", time.Now().UnixNano())
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":%q,"object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}`,
				id, time.Now().Unix(), req.Model, reply)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		fl, _ := w.(http.Flusher)
		chunk := func(delta, finish string) {
			fin := "null"
			if finish != "" {
				fin = `"` + finish + `"`
			}
			fmt.Fprintf(w, "data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n",
				id, time.Now().Unix(), req.Model, delta, fin)
			if fl != nil {
				fl.Flush()
			}
		}
		chunk(`{"role":"assistant","content":""}`, "")
		words := strings.SplitAfter(reply, " ")
		for i := 0; i < len(words); i += 3 {
			part := strings.Join(words[i:min(i+3, len(words))], "")
			b, _ := json.Marshal(map[string]string{"content": part})
			chunk(string(b), "")
			select {
			case <-r.Context().Done():
				return
			case <-time.After(pause):
			}
		}
		chunk(`{}`, "stop")
		fmt.Fprintf(w, "data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":10,\"total_tokens\":20}}\n\n", id, time.Now().Unix(), req.Model)
		fmt.Fprint(w, "data: [DONE]\n\n")
		if fl != nil {
			fl.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}
