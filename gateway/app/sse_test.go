package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

type sseClient struct {
	t      *testing.T
	held   []*fd.ServerFrame
	frames chan *fd.ServerFrame
	closes chan string
}

func sse(g *apptest.Gateway, t *testing.T, token string) (*sseClient, *fd.ServerFrame) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/v1/sse?token="+token, nil)
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
	case <-time.After(apptest.Wait):
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
	deadline := time.After(apptest.Wait)
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

// TestSSEFallback: server frames over Server-Sent Events, client frames over POST, with the same
// auth and recovery as the WebSocket; a POST reaching a gateway without the stream is answered
// in its response.
func TestSSEFallback(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g1, g2 := e.Gateway(), e.Gateway()
	k := apptest.Token(t, "acme", "sse1", frames.RoleCustomer)
	if code, _ := apptest.PostFrame(t, g1, "bad", "", &fd.ClientFrame{Type: frames.TypePing}); code != http.StatusUnauthorized {
		t.Fatalf("bad token POST: %d", code)
	}
	s, w := sse(g1, t, k)
	code, _ := apptest.PostFrame(t, g1, k, w.GetSession(), apptest.Text("e1", "", "over sse"))
	if code != http.StatusAccepted {
		t.Fatalf("POST to the stream's gateway: %d", code)
	}
	ack := s.await(frames.TypeAck)
	if m := s.await(frames.TypeMessage); m.GetSeq() != ack.GetSeq() || m.GetText() != "over sse" {
		t.Fatalf("message = %v", m)
	}
	// The same customer on WebSocket sees it too, and vice versa.
	ws, _ := g2.Dial(t, k)
	ws.Send(apptest.Text("e2", ack.GetConv(), "from ws"))
	if m := s.await(frames.TypeMessage); m.GetClientId() != "e2" {
		t.Fatalf("ws message over sse = %v", m)
	}
	// A POST on the other gateway (no stickiness) is answered inline.
	code, out := apptest.PostFrame(t, g2, k, w.GetSession(), &fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: ack.GetConv(), After: apptest.I64(0)})
	if code != http.StatusOK || len(out) != 3 || out[0].GetSeq() != ack.GetSeq() || out[2].GetType() != frames.TypeSynced || !out[2].GetRecovered() {
		t.Fatalf("inline answers: %d %v", code, out)
	}
	// Shutdown tells SSE clients to reconnect.
	g1.Cancel()
	select {
	case c := <-s.closes:
		if !strings.Contains(c, "1012") {
			t.Fatalf("close event = %s", c)
		}
	case <-time.After(apptest.Wait):
		t.Fatal("no close event")
	}
}
