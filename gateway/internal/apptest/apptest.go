// Package apptest runs gateways for tests: a NATS server with the test tenants, gateways
// started with config modifiers, tokens signed with the development Secret and a WebSocket
// client that reads frames in the background. The gateway's own tests and the abuse suite
// share it; it is imported by tests only.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Secret is the development Secret the tests sign most tokens with (every tenant accepts it:
// gateway.dev_tenants "*"); identity_test.go covers the tokens production accepts.
var Secret = []byte("test-development-Secret-0123456789abcdef")

// TestKeys is the gateway's own key set in these tests.
var TestKeys = func() string {
	b, err := token.GenerateKeys(nil)
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// Wait bounds how long a test waits for what must come. Only a failing test waits it out, so it is
// generous: a 1,100-conversation welcome took over 5 s while a CI run loaded both cores.
const Wait = 15 * time.Second

// Tenants are the seeded tenants: acme (bot off, visitors, origins), globex (bot on, one session per user), tiny
// (small limits), strict (one frame a second per user, bursts of two), roomy (no limit in the
// way of tests that send many frames).
func Tenants() []*fd.Tenant {
	return []*fd.Tenant{
		{Id: "acme", Name: "Acme", AllowedOrigins: []string{"https://*.acme.com"}, AnonymousVisitors: true},
		{Id: "globex", Name: "Globex", SingleSession: true, Bot: &fd.Bot{Enabled: true}},
		{Id: "tiny", Name: "Tiny", Limits: &fd.Limits{MaxFrameBytes: 1024, MessagesPerSecond: 1, Burst: 2,
			UserMessagesPerSecond: 100, MaxConnectionsPerUser: 2}},
		{Id: "strict", Name: "Strict", Limits: &fd.Limits{MessagesPerSecond: 1, Burst: 2, UserMessagesPerSecond: 1}},
		{Id: "roomy", Name: "Roomy", Limits: &fd.Limits{MessagesPerSecond: 1000, Burst: 1000, UserMessagesPerSecond: 1000}},
		{Id: "labeled", Name: "Labeled", Labels: []*fd.LabelDefinition{{Name: "vip"}, {Name: "refund"}}},
	}
}

// Env is a NATS server with the streams, buckets and test tenants, for gateways to run on.
type Env struct {
	T    testing.TB
	NATS *testkit.NATS
	NC   *nats.Conn
	JS   jetstream.JetStream
	Log  *zap.Logger // the gateways' logger when set, else testkit.Logger
}

// NewEnv starts NATS, provisions it and seeds Tenants.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, Tenants()); err != nil {
		t.Fatal(err)
	}
	return &Env{T: t, NATS: n, NC: nc, JS: js}
}

// Gateway is a running gateway, stopped when the test ends.
type Gateway struct {
	*app.Service
	URL    string // http://host:port
	cancel context.CancelFunc
	done   chan error
}

// Gateway starts a gateway on e with the test settings changed by mod.
func (e *Env) Gateway(mod ...func(*app.Config)) *Gateway {
	e.T.Helper()
	g, err := e.TryGateway(mod...)
	if err != nil {
		e.T.Fatal(err)
	}
	return g
}

// TryGateway starts a gateway like Gateway, returning the error of a start that failed; it
// may be called from another goroutine than the test's.
func (e *Env) TryGateway(mod ...func(*app.Config)) (*Gateway, error) {
	cfg := app.DefaultConfig()
	cfg.NATS.URL = e.NATS.URL()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Gateway.SigningKeys = TestKeys
	cfg.Gateway.DevSecret = string(Secret)
	cfg.Gateway.DevTenants = []string{"*"}
	cfg.Shutdown.Timeout = 5 * time.Second
	cfg.Log.Level = "warn"
	for _, m := range mod {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := e.Log
	if log == nil {
		log = testkit.Logger(e.T)
	}
	s, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		return nil, err
	}
	g := &Gateway{Service: s, URL: "http://" + s.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- s.Run(ctx) }()
	// Run waits for the topology and the tenant view before it serves.
	select {
	case <-s.Started():
	case err := <-g.done:
		cancel()
		if err == nil {
			err = errors.New("gateway stopped before it started")
		}
		return nil, err
	}
	e.T.Cleanup(g.Stop)
	return g, nil
}

// Cancel starts the gateway's shutdown without waiting for it (the test's end waits).
func (g *Gateway) Cancel() { g.cancel() }

// Stop stops the gateway and waits for it; a second Stop returns at once.
func (g *Gateway) Stop() {
	g.cancel()
	<-g.done
	g.done <- nil
}

// Token signs a token of user in tenant with role (the name is the user id in capitals).
func Token(t testing.TB, tenant, user, role string) string {
	t.Helper()
	s, err := token.Sign(Secret, token.Claims{Subject: user, Tenant: tenant, Role: role, Name: strings.ToUpper(user)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Client is a WebSocket connection to a gateway whose frames are read in the background.
type Client struct {
	T    *testing.T
	Conn *websocket.Conn
	// Frames are the frames read and not yet taken by Next, Await or Quiet.
	Frames chan *fd.ServerFrame
	// Done is closed when the connection ended.
	Done chan struct{}
	// Held are frames taken while waiting for others, returned first by Next and Await.
	Held   []*fd.ServerFrame
	binary bool
	mu     sync.Mutex
	err    error
}

// DialOpts change how Dial connects.
type DialOpts struct {
	Origin  string
	Proto   bool // the protobuf subprotocol (else JSON)
	NoRead  bool // no background reader, no welcome awaited
	Header  http.Header
	NoToken bool
}

// DialRaw opens a WebSocket to g as o says and returns it as it is.
func (g *Gateway) DialRaw(t *testing.T, token string, o DialOpts) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range o.Header {
		h[k] = v
	}
	if o.Origin != "" {
		h.Set("Origin", o.Origin)
	}
	url := strings.Replace(g.URL, "http", "ws", 1) + "/v1/ws"
	if !o.NoToken {
		url += "?token=" + token
	}
	sub := frames.SubprotocolJSON
	if o.Proto {
		sub = frames.SubprotocolProto
	}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{sub}})
}

// Dial connects and waits for the welcome frame.
func (g *Gateway) Dial(t *testing.T, token string, opts ...DialOpts) (*Client, *fd.ServerFrame) {
	t.Helper()
	var o DialOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	c, _, err := g.DialRaw(t, token, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	if o.NoRead {
		t.Cleanup(func() { _ = c.CloseNow() })
		return &Client{T: t, Conn: c, binary: o.Proto, Frames: make(chan *fd.ServerFrame, 10000), Done: make(chan struct{})}, nil
	}
	cl := NewClient(t, c, o.Proto)
	w := cl.Next()
	if w.GetType() != frames.TypeWelcome {
		t.Fatalf("first frame = %v, want welcome", w)
	}
	return cl, w
}

// NewClient reads the frames of c (protobuf when binary, else JSON) in the background; c is
// closed when the test ends.
func NewClient(t *testing.T, c *websocket.Conn, binary bool) *Client {
	cl := &Client{T: t, Conn: c, binary: binary, Frames: make(chan *fd.ServerFrame, 10000), Done: make(chan struct{})}
	t.Cleanup(func() { _ = c.CloseNow() })
	go cl.read()
	return cl
}

func (c *Client) read() {
	defer close(c.Done)
	for {
		typ, data, err := c.Conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		f := &fd.ServerFrame{}
		if typ == websocket.MessageBinary {
			err = proto.Unmarshal(data, f)
		} else {
			err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, f)
		}
		if err != nil {
			c.T.Errorf("undecodable frame %q: %v", data, err)
			continue
		}
		c.Frames <- f
	}
}

// Send writes f in the connection's encoding.
func (c *Client) Send(f *fd.ClientFrame) {
	c.T.Helper()
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if c.binary {
		b, _ := proto.Marshal(f)
		err = c.Conn.Write(ctx, websocket.MessageBinary, b)
	} else {
		err = c.Conn.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f))
	}
	if err != nil {
		c.T.Fatalf("send %s: %v", f.GetType(), err)
	}
}

// SendRaw writes b as a text message.
func (c *Client) SendRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	return c.Conn.Write(ctx, websocket.MessageText, b)
}

// Next returns the next frame.
func (c *Client) Next() *fd.ServerFrame {
	c.T.Helper()
	if len(c.Held) > 0 {
		f := c.Held[0]
		c.Held = c.Held[1:]
		return f
	}
	select {
	case f := <-c.Frames:
		return f
	case <-time.After(Wait):
		c.T.Fatalf("no frame within %s", Wait)
		return nil
	}
}

// Await returns the first frame of type typ (and conv/id when set), holding the others for
// later next/await calls.
func (c *Client) Await(typ string, match ...func(*fd.ServerFrame) bool) *fd.ServerFrame {
	c.T.Helper()
	ok := func(f *fd.ServerFrame) bool {
		if f.GetType() != typ {
			return false
		}
		for _, m := range match {
			if !m(f) {
				return false
			}
		}
		return true
	}
	for i, f := range c.Held {
		if ok(f) {
			c.Held = append(c.Held[:i:i], c.Held[i+1:]...)
			return f
		}
	}
	deadline := time.After(Wait)
	for {
		select {
		case f := <-c.Frames:
			if ok(f) {
				return f
			}
			c.Held = append(c.Held, f)
		case <-deadline:
			c.T.Fatalf("no %s frame within %s (held: %v)", typ, Wait, c.Held)
			return nil
		}
	}
}

// Quiet asserts no frame of type typ arrives within d.
func (c *Client) Quiet(typ string, d time.Duration) {
	c.T.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.Frames:
			if f.GetType() == typ {
				c.T.Fatalf("unexpected %s frame: %v", typ, f)
			}
			c.Held = append(c.Held, f)
		case <-deadline:
			return
		}
	}
}

// Err is the error that ended the connection (nil while it is open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Closed waits for the connection to end and returns the close code (-1: not a close frame).
func (c *Client) Closed() int {
	c.T.Helper()
	select {
	case <-c.Done:
	case <-time.After(3 * Wait):
		c.T.Fatalf("connection still open")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(websocket.CloseStatus(c.err))
}

// HasID matches a frame answering id.
func HasID(id string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetId() == id }
}

// InConv matches a frame of conv.
func InConv(conv string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetConv() == conv }
}

// Text is a send frame of a text message.
func Text(id, conv, s string) *fd.ClientFrame {
	return &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: conv, Kind: frames.KindText, Text: s}
}

// I64 returns a pointer to v.
func I64(v int64) *int64 { return &v }

// Sub collects protobuf messages published on a subject.
func (e *Env) Sub(subject string) chan *nats.Msg {
	e.T.Helper()
	ch := make(chan *nats.Msg, 1000)
	s, err := e.NC.ChanSubscribe(subject, ch)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { _ = s.Unsubscribe() })
	if err := e.NC.Flush(); err != nil {
		e.T.Fatal(err)
	}
	return ch
}

// Recv decodes the next message of ch into m.
func Recv(t testing.TB, ch chan *nats.Msg, m proto.Message) {
	t.Helper()
	select {
	case msg := <-ch:
		if err := proto.Unmarshal(msg.Data, m); err != nil {
			t.Fatal(err)
		}
	case <-time.After(Wait):
		t.Fatalf("nothing received")
	}
}

// StreamMsgs returns the stored messages of a subject.
func (e *Env) StreamMsgs(stream, subject string) []jetstream.Msg {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	cons, err := e.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		e.T.Fatal(err)
	}
	var out []jetstream.Msg
	for {
		b, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			e.T.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			return out
		}
	}
}

// Persister answers history requests from msgs (an in-test responder on the real bus).
func (e *Env) Persister(tenant string, msgs func(req *fd.HistoryRequest) *fd.HistoryReply) {
	e.T.Helper()
	s, err := e.NC.Subscribe(subjects.HistoryQuery(tenant), func(m *nats.Msg) {
		req := &fd.HistoryRequest{}
		_ = proto.Unmarshal(m.Data, req)
		b, _ := proto.Marshal(msgs(req))
		_ = m.Respond(b)
	})
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { _ = s.Unsubscribe() })
	_ = e.NC.Flush()
}

// PostFrame posts f to g's SSE endpoint (session: the stream's, or none) and returns the
// status and the frames answered.
func PostFrame(t *testing.T, g *Gateway, token, session string, f *fd.ClientFrame) (int, []*fd.ServerFrame) {
	t.Helper()
	url := g.URL + "/v1/sse"
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

// NewMultipart writes an upload form (conv, and file name holding data) into body and returns
// its content type.
func NewMultipart(body *bytes.Buffer, conv, name string, data []byte) string {
	mw := multipart.NewWriter(body)
	_ = mw.WriteField("conv", conv)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType()
}

// Upload posts an attachment of conv and returns the status and the JSON answer.
func (g *Gateway) Upload(t *testing.T, token, conv, name string, data []byte) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	ct := NewMultipart(&body, conv, name, data)
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/attachments", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
