package browser_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// spy is a client session that keeps every byte and every frame the server sent it, over
// WebSocket (JSON or protobuf) or Server-Sent Events, for tests that must prove something
// never arrived. Its reading goroutine ends with the connection, which t.Cleanup closes.
type spy struct {
	t     *testing.T
	name  string
	mu    sync.Mutex
	raw   bytes.Buffer
	got   []*fd.ServerFrame
	conn  *websocket.Conn // nil for SSE
	proto bool
	sse   string // the SSE session id
	base  string
	tok   string
	wg    sync.WaitGroup
}

// dialSpy opens a WebSocket session (protobuf frames when binary) and waits for welcome.
func dialSpy(t *testing.T, sys *system, name, tok string, binary bool) *spy {
	t.Helper()
	sub := frames.SubprotocolJSON
	if binary {
		sub = frames.SubprotocolProto
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	u := "ws" + strings.TrimPrefix(sys.URL, "http") + "/v1/ws?token=" + tok
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{sub},
		HTTPHeader: http.Header{"Origin": {sys.URL}}})
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	conn.SetReadLimit(4 << 20)
	s := &spy{t: t, name: name, conn: conn, proto: binary}
	s.wg.Go(func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			f := &fd.ServerFrame{}
			if binary {
				err = proto.Unmarshal(b, f)
			} else {
				err = protojson.Unmarshal(b, f)
			}
			s.keep(b, f, err)
		}
	})
	t.Cleanup(func() { conn.CloseNow(); s.wg.Wait() })
	s.waitFor("welcome", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeWelcome })
	return s
}

// sseSpy opens a Server-Sent Events session and waits for welcome.
func sseSpy(t *testing.T, sys *system, name, tok string) *spy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sys.URL+"/v1/sse?token="+tok, nil)
	req.Header.Set("Origin", sys.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("%s: sse: %v %v", name, resp, err)
	}
	s := &spy{t: t, name: name, base: sys.URL, tok: tok}
	s.wg.Go(func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 4<<20), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			f := &fd.ServerFrame{}
			s.keep([]byte(line+"\n"), f, protojson.Unmarshal([]byte(data), f))
		}
	})
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	w := s.waitFor("welcome", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeWelcome })
	s.sse = w.GetSession()
	return s
}

func (s *spy) keep(b []byte, f *fd.ServerFrame, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Write(b)
	if err == nil {
		s.got = append(s.got, f)
	}
}

// send sends a client frame on the session.
func (s *spy) send(f *fd.ClientFrame) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var err error
	switch {
	case s.conn != nil && s.proto:
		b, _ := proto.Marshal(f)
		err = s.conn.Write(ctx, websocket.MessageBinary, b)
	case s.conn != nil:
		err = s.conn.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f))
	default:
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/sse?session="+s.sse+"&token="+s.tok,
			bytes.NewReader(frames.AppendClientJSON(nil, f)))
		if err == nil {
			req.Header.Set("Origin", s.base)
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	if err != nil {
		s.t.Fatalf("%s sends %s: %v", s.name, f.GetType(), err)
	}
}

// waitFor waits until the session got a frame match accepts, and returns it.
func (s *spy) waitFor(what string, match func(*fd.ServerFrame) bool) *fd.ServerFrame {
	s.t.Helper()
	var found *fd.ServerFrame
	testkit.CheckFor(s.t, waitFor, 50*time.Millisecond, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, f := range s.got {
			if match(f) {
				found = f
				return nil
			}
		}
		return errNot(s.name + " has no " + what)
	})
	return found
}

// saw reports whether the session's bytes contain text anywhere.
func (s *spy) saw(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.raw.Bytes(), []byte(text))
}

// frames returns every frame the session got so far, history pages' messages included.
func (s *spy) frames() []*fd.ServerFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*fd.ServerFrame
	for _, f := range s.got {
		out = append(out, f)
		out = append(out, f.GetMessages()...)
	}
	return out
}
