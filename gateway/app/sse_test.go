package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

type sseClient struct {
	t      *testing.T
	held   []*fd.ServerFrame
	frames chan *fd.ServerFrame
	closes chan string
}

func (g *gateway) sse(t *testing.T, token string) (*sseClient, *fd.ServerFrame) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.url+"/v1/sse?token="+token, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sse status %d", resp.StatusCode)
	}
	c := &sseClient{t: t, frames: make(chan *fd.ServerFrame, 1000), closes: make(chan string, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data := strings.TrimPrefix(line, "data: ")
				if event == "close" {
					c.closes <- data
					return
				}
				f := &fd.ServerFrame{}
				if err := protojson.Unmarshal([]byte(data), f); err == nil {
					c.frames <- f
				}
			case line == "":
				event = ""
			}
		}
	}()
	select {
	case w := <-c.frames:
		if w.GetType() != frames.TypeWelcome {
			t.Fatalf("first sse frame = %v", w)
		}
		return c, w
	case <-time.After(wait):
		t.Fatal("no welcome over sse")
		return nil, nil
	}
}

func (c *sseClient) await(typ string) *fd.ServerFrame {
	c.t.Helper()
	for i, f := range c.held {
		if f.GetType() == typ {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return f
		}
	}
	deadline := time.After(wait)
	for {
		select {
		case f := <-c.frames:
			if f.GetType() == typ {
				return f
			}
			c.held = append(c.held, f)
		case <-deadline:
			c.t.Fatalf("no %s over sse", typ)
			return nil
		}
	}
}

func postFrame(t *testing.T, g *gateway, token, session string, f *fd.ClientFrame) (int, []*fd.ServerFrame) {
	t.Helper()
	url := g.url + "/v1/sse"
	if session != "" {
		url += "?session=" + session
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(frames.AppendClientJSON(nil, f))))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw []json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	var out []*fd.ServerFrame
	for _, r := range raw {
		f := &fd.ServerFrame{}
		if err := protojson.Unmarshal(r, f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return resp.StatusCode, out
}

// TestSSEFallback: server frames over Server-Sent Events, client frames over POST, with the same
// auth and recovery as the WebSocket; a POST reaching a gateway without the stream is answered
// in its response.
func TestSSEFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g1, g2 := e.gateway(), e.gateway()
	k := tok(t, "acme", "sse1", frames.RoleCustomer)
	if code, _ := postFrame(t, g1, "bad", "", &fd.ClientFrame{Type: frames.TypePing}); code != http.StatusUnauthorized {
		t.Fatalf("bad token POST: %d", code)
	}
	s, w := g1.sse(t, k)
	code, _ := postFrame(t, g1, k, w.GetSession(), text("e1", "", "over sse"))
	if code != http.StatusAccepted {
		t.Fatalf("POST to the stream's gateway: %d", code)
	}
	ack := s.await(frames.TypeAck)
	if m := s.await(frames.TypeMessage); m.GetSeq() != ack.GetSeq() || m.GetText() != "over sse" {
		t.Fatalf("message = %v", m)
	}
	// The same customer on WebSocket sees it too, and vice versa.
	ws, _ := g2.dial(t, k)
	ws.send(text("e2", ack.GetConv(), "from ws"))
	if m := s.await(frames.TypeMessage); m.GetClientId() != "e2" {
		t.Fatalf("ws message over sse = %v", m)
	}
	// A POST on the other gateway (no stickiness) is answered inline.
	code, out := postFrame(t, g2, k, w.GetSession(), &fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: ack.GetConv(), After: i64(0)})
	if code != http.StatusOK || len(out) != 3 || out[0].GetSeq() != ack.GetSeq() || out[2].GetType() != frames.TypeSynced || !out[2].GetRecovered() {
		t.Fatalf("inline answers: %d %v", code, out)
	}
	// Shutdown tells SSE clients to reconnect.
	g1.cancel()
	select {
	case c := <-s.closes:
		if !strings.Contains(c, "1012") {
			t.Fatalf("close event = %s", c)
		}
	case <-time.After(wait):
		t.Fatal("no close event")
	}
}
