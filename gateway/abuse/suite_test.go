// Over 600 lines on purpose: TestAbuseSuite's table and its attacks, each a short function,
// side by side, so an attack is added in one place with the refusal it must meet.

package abuse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// arena is one row's gateway and what the attacker may use.
type arena struct {
	e *apptest.Env
	g *apptest.Gateway
	// victimConv is a conversation of a well-behaved customer, for attacks on others' data.
	victimConv string
}

// attack runs until ctx ends (or gives up early) and reports the refusals it met, in order,
// as "code:<error code>", "close:<code>", "http:<status>" or "cut" (the server hung up).
type attack func(ctx context.Context, a *arena) ([]string, error)

// TestAbuseSuite: each attack of the abuse issue (items 1-8) and each class of the OWASP
// WebSocket cheat sheet, at full speed, beside three customers chatting. The attacker must meet
// the row's refusal; the customers' sends must all be acknowledged and every acknowledged
// message stored.
func TestAbuseSuite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config func(*app.Config)
		attack attack
		want   string
	}{
		{"1 sends over SSE POST past the rate limit", nil, ssePostFlood, "code:" + frames.CodeRateLimited},
		{"2 history of big messages, pages cut to the reply budget", nil, bigHistory, "history:more"},
		{"3 upload to a stranger's conversation (refused before the body)", nil, strangerUpload, "http:403"},
		{"4 messages past the tenant's daily quota", nil, quotaFlood, "code:" + frames.CodeQuotaExceeded},
		{"4 erase a customer without the supervisor role", nil, eraseAsCustomer, "http:403"},
		{"6 debug endpoints without ops.debug", nil, debugEndpoints, "http:404"},
		{"7 headers that never end", func(c *app.Config) { c.Gateway.HTTPTimeout = time.Second }, endlessHeaders, "cut"},
		{"8 file name with a bidi override", nil, bidiName, "renamed"},
		{"owasp origin not allowed", nil, badOrigin, "http:403"},
		{"owasp frame over the size limit", nil, bigFrame, fmt.Sprint("close:", frames.CloseTooBig)},
		{"owasp frame flood on one socket", nil, frameFlood, fmt.Sprint("close:", frames.ClosePolicyViolation)},
		{"owasp upgrade without a token", nil, noToken, "http:401"},
		{"owasp upgrade with a forged token", nil, forgedToken, "http:401"},
		{"owasp idle client that never answers pings", func(c *app.Config) {
			c.Gateway.PingInterval = 500 * time.Millisecond
			c.Gateway.DeadTimeout = 2 * time.Second
		}, silentClient, "cut"},
		{"owasp injection: a subject wildcard as conversation", nil, wildcardConv, "code:" + frames.CodeUnknownConversation},
		{"owasp injection: malformed frame", nil, malformed, "code:" + frames.CodeBadFrame},
	}
	// Rows run one after the other: each starts a gateway, three chatters and an attacker at
	// full speed, and on two busy cores sixteen of them at once starve each other.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := apptest.NewEnv(t)
			seedSuiteTenants(t, e)
			var mods []func(*app.Config)
			if tt.config != nil {
				mods = append(mods, tt.config)
			}
			g := e.Gateway(mods...)
			good := newChatters(t, e, g, 3)
			a := &arena{e: e, g: g, victimConv: good[0].conv}

			ctx, cancel := context.WithCancel(context.Background())
			var got []string
			var err error
			var wg sync.WaitGroup
			wg.Go(func() { got, err = tt.attack(ctx, a) })
			for _, c := range good {
				c.chat(20, 25*time.Millisecond)
			}
			cancel()
			wg.Wait()
			if err != nil {
				t.Fatalf("attack: %v", err)
			}
			if !containsPrefix(got, tt.want) {
				t.Errorf("attacker met %s, want %s", summary(got), tt.want)
			}
			for _, c := range good {
				c.stored()
			}
		})
	}
}

func containsPrefix(got []string, want string) bool {
	for _, g := range got {
		if strings.HasPrefix(g, want) {
			return true
		}
	}
	return false
}

// summary counts refusals by kind.
func summary(got []string) string {
	n := map[string]int{}
	var order []string
	for _, g := range got {
		if n[g] == 0 {
			order = append(order, g)
		}
		n[g]++
	}
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "%s x%d, ", k, n[k])
	}
	if b.Len() == 0 {
		return "no refusal"
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// seedSuiteTenants adds "capped" (a daily quota of 5 messages).
func seedSuiteTenants(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	kv, err := e.JS.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, []*fd.Tenant{{Id: "capped", Name: "Capped",
		Limits: &fd.Limits{MessagesPerSecond: 1000, Burst: 1000, UserMessagesPerSecond: 1000},
		Quotas: &fd.Quotas{MessagesPerDay: 5}}}); err != nil {
		t.Fatal(err)
	}
}

// chatter is a well-behaved customer of tenant roomy.
type chatter struct {
	t     *testing.T
	e     *apptest.Env
	c     *apptest.Client
	conv  string
	acked map[int64]string // seq -> text
}

func newChatters(t *testing.T, e *apptest.Env, g *apptest.Gateway, n int) []*chatter {
	var out []*chatter
	for i := range n {
		c, _ := g.Dial(t, apptest.Token(t, "roomy", fmt.Sprintf("good-%d", i), frames.RoleCustomer))
		c.Send(apptest.Text("hello", "", "hello"))
		ack := c.Await(frames.TypeAck, apptest.HasID("hello"))
		out = append(out, &chatter{t: t, e: e, c: c, conv: ack.GetConv(), acked: map[int64]string{ack.GetSeq(): "hello"}})
	}
	return out
}

// chat sends n messages, one every gap (a customer typing, not a flood), each acknowledged.
// The chatters take turns so they run beside the attacker in the test's goroutine.
func (c *chatter) chat(n int, gap time.Duration) {
	c.t.Helper()
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		id := fmt.Sprintf("g%d", i)
		body := fmt.Sprintf("message %d of %s", i, c.conv)
		c.c.Send(apptest.Text(id, c.conv, body))
		ack := c.c.Await(frames.TypeAck, apptest.HasID(id))
		c.acked[ack.GetSeq()] = body
	}
}

// stored checks every acknowledged message is in the stream at its seq.
func (c *chatter) stored() {
	c.t.Helper()
	have := map[int64]bool{}
	for _, m := range c.e.StreamMsgs(subjects.StreamMessages, subjects.Messages("roomy", c.conv)) {
		md, err := m.Metadata()
		if err != nil {
			c.t.Fatal(err)
		}
		have[int64(md.Sequence.Stream)] = true
	}
	for seq, body := range c.acked {
		if !have[seq] {
			c.t.Errorf("acknowledged message %q (seq %d) of %s not stored", body, seq, c.conv)
		}
	}
}

// --- attacks -----------------------------------------------------------------------------

func wsURL(a *arena, token string) string {
	return strings.Replace(a.g.URL, "http", "ws", 1) + "/v1/ws?token=" + token
}

// ws opens a raw socket as the attacker; the caller closes it.
func ws(ctx context.Context, a *arena, token string, h http.Header) (*websocket.Conn, error) {
	c, resp, err := websocket.Dial(ctx, wsURL(a, token), &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{frames.SubprotocolJSON}})
	if err != nil {
		if resp != nil {
			return nil, httpErr(resp.StatusCode)
		}
		return nil, err
	}
	c.SetReadLimit(8 << 20)
	return c, nil
}

type httpErr int

func (e httpErr) Error() string { return fmt.Sprint("http:", int(e)) }

// frame sends f and returns the frames read until one answers it (or the socket ends).
func roundTrip(ctx context.Context, c *websocket.Conn, f *fd.ClientFrame) (*fd.ServerFrame, error) {
	if err := c.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f)); err != nil {
		return nil, err
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return nil, err
		}
		out := &fd.ServerFrame{}
		if err := protojson.Unmarshal(b, out); err != nil {
			return nil, err
		}
		if out.GetId() == f.GetId() || (f.GetId() == "" && out.GetType() == frames.TypeError) ||
			(f.GetType() == frames.TypeHistory && out.GetType() == frames.TypeHistory) {
			return out, nil
		}
	}
}

// closeOf turns a socket's end into a refusal.
func closeOf(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return fmt.Sprint("close:", int(code))
	}
	return "cut"
}

func answer(f *fd.ServerFrame) string {
	if f.GetType() == frames.TypeError {
		return "code:" + f.GetCode()
	}
	return f.GetType()
}

// ssePostFlood: POST /v1/sse sends without a session, as fast as possible (item 1).
func ssePostFlood(ctx context.Context, a *arena) ([]string, error) {
	token := apptest.Token(a.e.T.(*testing.T), "strict", "flooder", frames.RoleCustomer)
	var got []string
	for i := 0; ctx.Err() == nil; i++ {
		f := apptest.Text(fmt.Sprint("p", i), "", "buy now")
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.g.URL+"/v1/sse", bytes.NewReader(frames.AppendClientJSON(nil, f)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte(frames.CodeRateLimited)) {
			got = append(got, "code:"+frames.CodeRateLimited)
		} else if resp.StatusCode != http.StatusOK {
			got = append(got, fmt.Sprint("http:", resp.StatusCode))
		}
	}
	return got, nil
}

// bigHistory: a history of 30 messages of 32 KiB of '<' (six bytes each in JSON) asked for
// over and over (item 2): pages are cut to the reply budget, then refused.
func bigHistory(ctx context.Context, a *arena) ([]string, error) {
	big := strings.Repeat("<", frames.MaxTextBytes)
	a.e.Persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
		var msgs []*fd.StoredMessage
		for i := range 30 {
			msgs = append(msgs, &fd.StoredMessage{Seq: int64(i + 1), Message: &fd.Message{Id: fmt.Sprint("h", i), Conv: req.GetConv(), Text: big}})
		}
		return &fd.HistoryReply{Messages: msgs}
	})
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "acme", "hoarder", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	ack, err := roundTrip(ctx, c, apptest.Text("open", "", "hi"))
	if err != nil {
		return nil, err
	}
	var got []string
	for i := 0; ctx.Err() == nil; i++ {
		f, err := roundTrip(ctx, c, &fd.ClientFrame{Type: frames.TypeHistory, Id: fmt.Sprint("h", i), Conv: ack.GetConv(), Limit: proto.Int32(50)})
		if err != nil {
			got = append(got, closeOf(err))
			break
		}
		if f.GetType() != frames.TypeHistory {
			got = append(got, answer(f))
			continue
		}
		b, _ := protojson.Marshal(f)
		if !f.GetMore() || len(b) > 512<<10 {
			return got, fmt.Errorf("a history page of %d bytes (more %v) for 5.9 MB of history", len(b), f.GetMore())
		}
		got = append(got, "history:more")
	}
	return got, nil
}

// strangerUpload: an upload naming another customer's conversation whose body never comes
// (item 3): refused before the body is read.
func strangerUpload(ctx context.Context, a *arena) ([]string, error) {
	token := apptest.Token(a.e.T.(*testing.T), "roomy", "snoop", frames.RoleCustomer)
	var got []string
	for ctx.Err() == nil {
		pr, pw := io.Pipe()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.g.URL+"/v1/attachments?conv="+a.victimConv, pr)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		// The body's first bytes, then nothing until the answer came or the row ends: the
		// transport waits for its body writer before returning an error, so the body must end
		// then too.
		answered := make(chan struct{})
		go func() {
			_, _ = pw.Write([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"))
			select {
			case <-ctx.Done():
			case <-answered:
			}
			_ = pw.CloseWithError(errors.New("stalled upload ends"))
		}()
		resp, err := http.DefaultClient.Do(req)
		close(answered)
		if err != nil {
			break
		}
		resp.Body.Close()
		got = append(got, fmt.Sprint("http:", resp.StatusCode))
	}
	return got, nil
}

// quotaFlood: sends past the tenant's daily quota (item 4).
func quotaFlood(ctx context.Context, a *arena) ([]string, error) {
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "capped", "spender", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	var got []string
	for i := 0; ctx.Err() == nil; i++ {
		f, err := roundTrip(ctx, c, apptest.Text(fmt.Sprint("q", i), "", "again"))
		if err != nil {
			break
		}
		if f.GetType() == frames.TypeError {
			got = append(got, answer(f))
		}
	}
	return got, nil
}

// eraseAsCustomer: a customer (or an agent) asking to erase another customer.
func eraseAsCustomer(ctx context.Context, a *arena) ([]string, error) {
	var reqs []*http.Request
	for _, role := range []string{frames.RoleCustomer, frames.RoleAgent} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.g.URL+"/v1/erase", strings.NewReader(`{"user":"good-0"}`))
		req.Header.Set("Authorization", "Bearer "+apptest.Token(a.e.T.(*testing.T), "roomy", "eraser-"+role, role))
		reqs = append(reqs, req)
	}
	got, err := statuses(reqs...)
	if err != nil {
		return got, err
	}
	if strings.Join(got, ",") != "http:403,http:403" {
		return got, fmt.Errorf("erase without the supervisor role answered %v", got)
	}
	return got, nil
}

// statuses sends each request in turn and answers their statuses as http:<code>, those it got
// before an error too.
func statuses(reqs ...*http.Request) ([]string, error) {
	var got []string
	for _, req := range reqs {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return got, err
		}
		resp.Body.Close()
		got = append(got, fmt.Sprint("http:", resp.StatusCode))
	}
	return got, nil
}

// debugEndpoints: pprof and the forced GC on the ops port, debug off (item 6).
func debugEndpoints(ctx context.Context, a *arena) ([]string, error) {
	var reqs []*http.Request
	for _, p := range []struct{ method, path string }{{http.MethodPost, "/debug/gc"}, {http.MethodGet, "/debug/pprof/profile?seconds=1"}} {
		req, _ := http.NewRequestWithContext(ctx, p.method, "http://"+a.g.OpsAddr()+p.path, nil)
		reqs = append(reqs, req)
	}
	got, err := statuses(reqs...)
	if err != nil {
		return got, err
	}
	if strings.Join(got, ",") != "http:404,http:404" {
		return got, fmt.Errorf("debug endpoints answered %v", got)
	}
	return got, nil
}

// endlessHeaders: connections whose request headers never end (item 7).
func endlessHeaders(ctx context.Context, a *arena) ([]string, error) {
	var got []string
	for ctx.Err() == nil {
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.g.URL, "http://"))
		if err != nil {
			return got, err
		}
		_, _ = io.WriteString(conn, "GET /v1/visitors HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		_ = conn.SetReadDeadline(time.Now().Add(3 * apptest.Wait))
		_, err = io.ReadAll(conn)
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got, errors.New("a request whose headers never end was held 15 s")
		}
		got = append(got, "cut")
	}
	return got, nil
}

// bidiName: an upload named with U+202E (item 8): stored under a name without it, with the
// sniffed type's extension.
func bidiName(ctx context.Context, a *arena) ([]string, error) {
	t := a.e.T.(*testing.T)
	token := apptest.Token(t, "roomy", "renamer", frames.RoleCustomer)
	c, err := ws(ctx, a, token, nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	ack, err := roundTrip(ctx, c, apptest.Text("open", "", "hi"))
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	ct := apptest.NewMultipart(&body, ack.GetConv(), "invoice\u202egnp.exe", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.g.URL+"/v1/attachments", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte("\u202e")) || !bytes.Contains(b, []byte(`.png"`)) {
		return nil, fmt.Errorf("upload answered %d %s", resp.StatusCode, b)
	}
	return []string{"renamed"}, nil
}

// badOrigin: a socket opened from a page of another site (cross-site WebSocket hijacking).
func badOrigin(ctx context.Context, a *arena) ([]string, error) {
	_, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "acme", "victim", frames.RoleCustomer), http.Header{"Origin": {"https://evil.example"}})
	return []string{refusal(err)}, nil
}

func refusal(err error) string {
	var he httpErr
	if errors.As(err, &he) {
		return he.Error()
	}
	if err == nil {
		return "accepted"
	}
	return "error:" + err.Error()
}

// bigFrame: a frame over the tenant's max_frame_bytes (1 KiB for tiny).
func bigFrame(ctx context.Context, a *arena) ([]string, error) {
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "tiny", "bulky", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	_, err = roundTrip(ctx, c, apptest.Text("big", "", strings.Repeat("x", 4096)))
	return []string{closeOf(err)}, nil
}

// frameFlood: frames as fast as the socket takes them, past the per-connection bucket and
// on after the rate_limited answers.
func frameFlood(ctx context.Context, a *arena) ([]string, error) {
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "strict", "spammer", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	var got []string
	reading := make(chan error, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				reading <- err
				return
			}
			if bytes.Contains(b, []byte(frames.CodeRateLimited)) {
				got = append(got, "code:"+frames.CodeRateLimited)
			}
		}
	}()
	for i := 0; ; i++ {
		if err := c.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, apptest.Text(fmt.Sprint("f", i), "", "spam"))); err != nil {
			break
		}
	}
	err = <-reading
	return append(got, closeOf(err)), nil
}

// noToken and forgedToken: upgrades that are not authenticated.
func noToken(ctx context.Context, a *arena) ([]string, error) {
	_, err := ws(ctx, a, "", nil)
	return []string{refusal(err)}, nil
}

func forgedToken(ctx context.Context, a *arena) ([]string, error) {
	good := apptest.Token(a.e.T.(*testing.T), "roomy", "someone", frames.RoleSupervisor)
	forged := good[:len(good)-4] + "AAAA"
	_, err := ws(ctx, a, forged, nil)
	return []string{refusal(err)}, nil
}

// silentClient: a socket that never reads, so never answers pings.
func silentClient(ctx context.Context, a *arena) ([]string, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.g.URL, "http://"))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	token := apptest.Token(a.e.T.(*testing.T), "roomy", "ghost", frames.RoleCustomer)
	_, _ = io.WriteString(conn, "GET /v1/ws?token="+token+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: "+frames.SubprotocolJSON+"\r\n\r\n")
	// Everything the server sends is read (and dropped) as a kernel would buffer it, but no
	// pong is ever written: the server must hang up after its dead timeout.
	_ = conn.SetReadDeadline(time.Now().Add(3 * apptest.Wait))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, errors.New("a socket that never answered pings was kept 15 s")
	}
	return []string{"cut"}, nil
}

// wildcardConv: a conversation id that is a subject wildcard, to reach other conversations.
func wildcardConv(ctx context.Context, a *arena) ([]string, error) {
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "roomy", "wild", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	var got []string
	for _, conv := range []string{"*", ">", "c1.>", a.victimConv + ".x"} {
		f, err := roundTrip(ctx, c, apptest.Text("w"+conv, conv, "hi"))
		if err != nil {
			return got, err
		}
		if f.GetType() != frames.TypeError {
			return got, fmt.Errorf("send to conversation %q answered %v", conv, f)
		}
		got = append(got, answer(f))
	}
	return got, nil
}

// malformed: frames that are not JSON, of an unknown type, or missing their fields.
func malformed(ctx context.Context, a *arena) ([]string, error) {
	c, err := ws(ctx, a, apptest.Token(a.e.T.(*testing.T), "roomy", "fuzzy", frames.RoleCustomer), nil)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	var got []string
	for _, raw := range []string{`{"type":`, `{"type":"drop_tables","id":"x"}`, `{"type":"send","id":"y"}`, "\x00\xff"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(raw)); err != nil {
			return got, err
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			return append(got, closeOf(err)), nil
		}
		f := &fd.ServerFrame{}
		_ = protojson.Unmarshal(b, f)
		got = append(got, answer(f))
	}
	return got, nil
}
