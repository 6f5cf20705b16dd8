package app_test

import (
	"context"
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

// secret is the development secret the tests sign most tokens with (every tenant accepts it:
// gateway.dev_tenants "*"); identity_test.go covers the tokens production accepts.
var secret = []byte("test-development-secret-0123456789abcdef")

// testKeys is the gateway's own key set in these tests.
var testKeys = func() string {
	b, err := token.GenerateKeys(nil)
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// wait bounds how long a test waits for what must come. Only a failing test waits it out, so it is
// generous: a 1,100-conversation welcome took over 5 s while a CI run loaded both cores.
const wait = 15 * time.Second

// testTenants: acme (bot off, visitors, origins), globex (bot on, one session per user), tiny
// (small limits), strict (one frame a second per user, bursts of two), roomy (no limit in the
// way of tests that send many frames).
func testTenants() []*fd.Tenant {
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

type env struct {
	t    testing.TB
	nats *testkit.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *zap.Logger // the gateways' logger when set, else testkit.Logger
}

func newEnv(t testing.TB) *env {
	t.Helper()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, testTenants()); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, nats: n, nc: nc, js: js}
}

type gateway struct {
	*app.Service
	url    string
	cancel context.CancelFunc
	done   chan error
}

func (e *env) gateway(mod ...func(*app.Config)) *gateway {
	e.t.Helper()
	g, err := e.tryGateway(mod...)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// tryGateway starts a gateway like gateway, returning the error of a start that failed; it
// may be called from another goroutine than the test's.
func (e *env) tryGateway(mod ...func(*app.Config)) (*gateway, error) {
	cfg := app.DefaultConfig()
	cfg.NATS.URL = e.nats.URL()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Gateway.SigningKeys = testKeys
	cfg.Gateway.DevSecret = string(secret)
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
	log := e.log
	if log == nil {
		log = testkit.Logger(e.t)
	}
	s, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		return nil, err
	}
	g := &gateway{Service: s, url: "http://" + s.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- s.Run(ctx) }()
	e.t.Cleanup(g.stop)
	return g, nil
}

func (g *gateway) stop() {
	g.cancel()
	<-g.done
	g.done <- nil
}

func tok(t *testing.T, tenant, user, role string) string {
	t.Helper()
	s, err := token.Sign(secret, token.Claims{Subject: user, Tenant: tenant, Role: role, Name: strings.ToUpper(user)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type client struct {
	t      *testing.T
	c      *websocket.Conn
	binary bool
	frames chan *fd.ServerFrame
	done   chan struct{}
	mu     sync.Mutex
	err    error
	held   []*fd.ServerFrame
}

type dialOpts struct {
	origin  string
	proto   bool
	noRead  bool
	header  http.Header
	noToken bool
}

func (g *gateway) dialRaw(t *testing.T, token string, o dialOpts) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range o.header {
		h[k] = v
	}
	if o.origin != "" {
		h.Set("Origin", o.origin)
	}
	url := strings.Replace(g.url, "http", "ws", 1) + "/v1/ws"
	if !o.noToken {
		url += "?token=" + token
	}
	sub := frames.SubprotocolJSON
	if o.proto {
		sub = frames.SubprotocolProto
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{sub}})
}

// dial connects and waits for welcome.
func (g *gateway) dial(t *testing.T, token string, opts ...dialOpts) (*client, *fd.ServerFrame) {
	t.Helper()
	var o dialOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	c, _, err := g.dialRaw(t, token, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	cl := &client{t: t, c: c, binary: o.proto, frames: make(chan *fd.ServerFrame, 10000), done: make(chan struct{})}
	t.Cleanup(func() { _ = c.CloseNow() })
	if o.noRead {
		return cl, nil
	}
	go cl.read()
	w := cl.next()
	if w.GetType() != frames.TypeWelcome {
		t.Fatalf("first frame = %v, want welcome", w)
	}
	return cl, w
}

func (c *client) read() {
	defer close(c.done)
	for {
		typ, data, err := c.c.Read(context.Background())
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
			c.t.Errorf("undecodable frame %q: %v", data, err)
			continue
		}
		c.frames <- f
	}
}

func (c *client) send(f *fd.ClientFrame) {
	c.t.Helper()
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if c.binary {
		b, _ := proto.Marshal(f)
		err = c.c.Write(ctx, websocket.MessageBinary, b)
	} else {
		err = c.c.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f))
	}
	if err != nil {
		c.t.Fatalf("send %s: %v", f.GetType(), err)
	}
}

func (c *client) sendRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.c.Write(ctx, websocket.MessageText, b)
}

// next returns the next frame.
func (c *client) next() *fd.ServerFrame {
	c.t.Helper()
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f
	}
	select {
	case f := <-c.frames:
		return f
	case <-time.After(wait):
		c.t.Fatalf("no frame within %s", wait)
		return nil
	}
}

// await returns the first frame of type typ (and conv/id when set), holding the others for
// later next/await calls.
func (c *client) await(typ string, match ...func(*fd.ServerFrame) bool) *fd.ServerFrame {
	c.t.Helper()
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
	for i, f := range c.held {
		if ok(f) {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return f
		}
	}
	deadline := time.After(wait)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				return f
			}
			c.held = append(c.held, f)
		case <-deadline:
			c.t.Fatalf("no %s frame within %s (held: %v)", typ, wait, c.held)
			return nil
		}
	}
}

// quiet asserts no frame of type typ arrives within d.
func (c *client) quiet(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if f.GetType() == typ {
				c.t.Fatalf("unexpected %s frame: %v", typ, f)
			}
			c.held = append(c.held, f)
		case <-deadline:
			return
		}
	}
}

// closed waits for the connection to end and returns the close code (-1: not a close frame).
func (c *client) closed() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(3 * wait):
		c.t.Fatalf("connection still open")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(websocket.CloseStatus(c.err))
}

func hasID(id string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetId() == id }
}

func inConv(conv string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetConv() == conv }
}

func text(id, conv, s string) *fd.ClientFrame {
	return &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: conv, Kind: frames.KindText, Text: s}
}

func i64(v int64) *int64 { return &v }

// sub collects protobuf messages published on a subject.
func (e *env) sub(subject string) chan *nats.Msg {
	e.t.Helper()
	ch := make(chan *nats.Msg, 1000)
	s, err := e.nc.ChanSubscribe(subject, ch)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func recv(t *testing.T, ch chan *nats.Msg, m proto.Message) {
	t.Helper()
	select {
	case msg := <-ch:
		if err := proto.Unmarshal(msg.Data, m); err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatalf("nothing received")
	}
}

// streamMsgs returns the stored messages of a subject.
func (e *env) streamMsgs(stream, subject string) []jetstream.Msg {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []jetstream.Msg
	for {
		b, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			e.t.Fatal(err)
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

// persister answers history requests from msgs (an in-test responder on the real bus).
func (e *env) persister(tenant string, msgs func(req *fd.HistoryRequest) *fd.HistoryReply) {
	e.t.Helper()
	s, err := e.nc.Subscribe(subjects.HistoryQuery(tenant), func(m *nats.Msg) {
		req := &fd.HistoryRequest{}
		_ = proto.Unmarshal(m.Data, req)
		b, _ := proto.Marshal(msgs(req))
		_ = m.Respond(b)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Unsubscribe() })
	_ = e.nc.Flush()
}
