package abuse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// acked counts the acks among a POST's answers and checks the others are rate_limited errors.
func acked(t *testing.T, code int, out []*fd.ServerFrame) int {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("POST status %d", code)
	}
	n := 0
	for _, f := range out {
		switch {
		case f.GetType() == frames.TypeAck:
			n++
		case f.GetType() == frames.TypeError && f.GetCode() == frames.CodeRateLimited:
		default:
			t.Fatalf("unexpected answer %v", f)
		}
	}
	return n
}

// TestRateLimitsHoldOverSSEPost: a POST to /v1/sse without a session (or on a gateway that does
// not hold it) used to build fresh buckets for every request, so nothing limited it. The
// token's and the user's buckets now outlive requests and connections: with one frame a second
// and bursts of two, a flood of sends gets about two acks plus one per second, whether it reuses
// its token, mints a new token per request or mixes WebSocket and POST.
func TestRateLimitsHoldOverSSEPost(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	// Refusals answered at once: this test counts what the buckets grant over time
	// (TestRateLimitedPostsWait holds them).
	g := e.Gateway(func(c *app.Config) { c.Gateway.RefusalDelay = -1 })
	const tries = 20
	// allowed is what the buckets may grant in d: the burst, one a second, one for rounding.
	allowed := func(d time.Duration) int { return 2 + int(d.Seconds()) + 1 }
	tests := []struct {
		name  string
		user  string
		token func(i int) string
		ws    bool // spend the burst over WebSocket first
	}{
		{name: "same token", user: "flood1", token: func(int) string { return apptest.Token(t, "strict", "flood1", frames.RoleCustomer) }},
		{name: "new token per request", user: "flood2", token: func(i int) string {
			s, err := token.Sign(apptest.Secret, token.Claims{Subject: "flood2", Tenant: "strict", Role: frames.RoleCustomer},
				time.Hour+time.Duration(i)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{name: "websocket then post", user: "flood3", ws: true,
			token: func(int) string { return apptest.Token(t, "strict", "flood3", frames.RoleCustomer) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			n := 0
			if tc.ws {
				c, _ := g.Dial(t, tc.token(0))
				for i := range 2 {
					c.Send(apptest.Text("w"+string(rune('a'+i)), "", "hello"))
					c.Await(frames.TypeAck)
				}
				n = 2
			}
			for i := range tries {
				code, out := apptest.PostFrame(t, g, tc.token(i), "", apptest.Text("p"+string(rune('a'+i)), "", "flood"))
				n += acked(t, code, out)
			}
			if max := allowed(time.Since(start)); n > max {
				t.Fatalf("%d of %d sends acked in %s, want at most %d", n, tries, time.Since(start), max)
			}
			if n == 0 {
				t.Fatal("nothing acked: the limit refuses everyone")
			}
		})
	}
}

// TestRateLimitedPostsWait: a POST /v1/sse without a session whose frame is refused by a rate
// limit used to be answered at once, so a client flooding them made the gateway check a token
// and refuse a frame thousands of times a second. Such an answer is now held refusal_delay:
// four clients at full speed for 2 s get at most four answers per delay.
func TestRateLimitedPostsWait(t *testing.T) {
	t.Parallel()
	const workers, delay, run = 4, 500 * time.Millisecond, 2 * time.Second
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) { c.Gateway.RefusalDelay = delay })
	tok := apptest.Token(t, "strict", "flood4", frames.RoleCustomer)
	var answered, acks atomic.Int64
	stop := time.Now().Add(run)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				code, out := apptest.PostFrame(t, g, tok, "", apptest.Text(fmt.Sprintf("f%d_%d", w, i), "", "flood"))
				answered.Add(1)
				acks.Add(int64(acked(t, code, out)))
			}
		})
	}
	wg.Wait()
	// The bursts of two and one a second, as in TestRateLimitsHoldOverSSEPost, are answered
	// at once; every refusal waits.
	granted := int64(2 + int(run.Seconds()) + 1)
	if n, most := answered.Load(), granted+int64(workers*(int(run/delay)+1)); n > most {
		t.Fatalf("%d answers in %s to %d clients, want at most %d", n, run, workers, most)
	}
	if acks.Load() == 0 {
		t.Fatal("nothing acked: the limit refuses everyone")
	}
}

// TestRepliesBoundedInBytes: messages of 32 KiB of "<" (six bytes each in JSON) made a history
// page of several MB, which overflowed the 1 MiB outbound queue and aborted the socket (a
// console asking for it after every welcome looped reconnecting), and a sync from the record
// queued a whole page at once the same way. Pages are now cut to fit, with more set, and a
// replay waits for the queue by bytes: the client reads every message on one connection.
func TestRepliesBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust := apptest.Token(t, "roomy", "bigpage", frames.RoleCustomer)
	c, _ := g.Dial(t, cust)
	const n = 20
	big := strings.Repeat("<", session.MaxTextBytes)
	var stored []*fd.StoredMessage
	var conv string
	for i := range n {
		id := fmt.Sprintf("b%02d", i)
		c.Send(apptest.Text(id, conv, "small"))
		a := c.Await(frames.TypeAck, apptest.HasID(id))
		conv = a.GetConv()
		stored = append(stored, &fd.StoredMessage{Seq: a.GetSeq(), Message: &fd.Message{Id: "m_" + id, ClientId: id,
			Conv: conv, Text: big, From: &fd.Participant{Id: "bigpage", Role: "customer"}}})
	}
	// The record holds the big versions; the stream forgets all but the last.
	e.Persister("roomy", func(req *fd.HistoryRequest) *fd.HistoryReply {
		var out []*fd.StoredMessage
		for _, m := range stored {
			if (req.GetAfter() > 0 && m.GetSeq() > req.GetAfter()) ||
				(req.GetAfter() <= 0 && (req.GetBefore() <= 0 || m.GetSeq() < req.GetBefore())) {
				out = append(out, m)
			}
		}
		return &fd.HistoryReply{Messages: out}
	})
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	s, err := e.JS.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(uint64(stored[n-1].GetSeq()))); err != nil {
		t.Fatal(err)
	}

	t.Run("history pages", func(t *testing.T) {
		seen := map[int64]bool{}
		var before int64
		for pages := 0; ; pages++ {
			id := fmt.Sprintf("h%d", pages)
			c.Send(&fd.ClientFrame{Type: frames.TypeHistory, Id: id, Conv: conv, Before: &before})
			h := c.Await(frames.TypeHistory, apptest.HasID(id))
			if pages == 0 && !h.GetMore() {
				t.Fatalf("first page has all %d messages", len(h.GetMessages()))
			}
			for _, m := range h.GetMessages() {
				if seen[m.GetSeq()] || m.GetText() != big {
					t.Fatalf("seq %d twice or altered", m.GetSeq())
				}
				seen[m.GetSeq()] = true
			}
			if !h.GetMore() {
				break
			}
			before = h.GetMessages()[0].GetSeq()
		}
		if len(seen) != n {
			t.Fatalf("read %d of %d messages", len(seen), n)
		}
	})
	t.Run("sync from the record", func(t *testing.T) {
		c.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv, After: apptest.I64(stored[0].GetSeq())})
		got := 0
		for {
			f := c.Next()
			if f.GetType() == frames.TypeMessage && f.GetText() == big {
				got++
			}
			if f.GetType() == frames.TypeSynced {
				if !f.GetRecovered() || f.GetLastSeq() != stored[n-1].GetSeq() {
					t.Fatalf("synced = %v", f)
				}
				break
			}
		}
		if got != n-2 { // the last comes from the stream
			t.Fatalf("replayed %d of %d from the record", got, n-2)
		}
	})
}

// stalledUpload starts an upload whose body stops after the file's first bytes; the returned
// channel gets the response status (or -1 if the connection failed without one) and stop ends
// the body.
func stalledUpload(g *apptest.Gateway, t *testing.T, token, conv string) (status chan int, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/attachments", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	status = make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	_ = mw.WriteField("conv", conv)
	fw, _ := mw.CreateFormFile("file", "cat.png")
	_, _ = fw.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 4096)...))
	stop = sync.OnceFunc(func() { _ = pw.CloseWithError(errors.New("stopped")) })
	t.Cleanup(stop)
	return status, stop
}

// awaitUploads waits until the gateway reports n uploads in progress.
func awaitUploads(g *apptest.Gateway, t *testing.T, n int) {
	t.Helper()
	want := fmt.Sprintf("frontdesk_gateway_uploads_in_progress %d\n", n)
	testkit.CheckFor(t, apptest.Wait, 10*time.Millisecond, func() error {
		resp, err := http.Get("http://" + g.OpsAddr() + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(want)) {
			return fmt.Errorf("want %q in the gateway's metrics", strings.TrimSpace(want))
		}
		return nil
	})
}

func statusWithin(t *testing.T, ch chan int, d time.Duration) int {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatalf("no answer within %s", d)
		return 0
	}
}

// TestUploadBounds: uploads used to be read whole into memory before anything was checked,
// with no deadline and no cap, so stalled uploads pinned memory at will. A stranger to the
// conversation is refused before the file is read; a user has at most two uploads in progress;
// a stalled body is cut off at the upload deadline, which frees its place; and the stored name
// carries the sniffed type's extension and no bidirectional controls.
func TestUploadBounds(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	// Long enough for the cap to be seen under load, short enough to see stalled uploads cut.
	g := e.Gateway(func(c *app.Config) { c.Gateway.UploadTimeout = 6 * time.Second })
	custTok := apptest.Token(t, "acme", "upl1", frames.RoleCustomer)
	c, _ := g.Dial(t, custTok)
	c.Send(apptest.Text("u0", "", "a file follows"))
	conv := c.Await(frames.TypeAck).GetConv()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)

	t.Run("stranger refused before the file is read", func(t *testing.T) {
		st, _ := stalledUpload(g, t, apptest.Token(t, "acme", "stranger", frames.RoleCustomer), conv)
		if s := statusWithin(t, st, apptest.Wait); s != http.StatusForbidden {
			t.Fatalf("stranger's stalled upload: %d, want 403", s)
		}
	})
	t.Run("uploads in progress capped, stalled ones cut off", func(t *testing.T) {
		// Each stalled upload is seen in progress before the next request is made: a third
		// upload sent before the stalled ones reached the gateway would take one of their places.
		s1, _ := stalledUpload(g, t, custTok, conv)
		awaitUploads(g, t, 1)
		s2, _ := stalledUpload(g, t, custTok, conv)
		awaitUploads(g, t, 2)
		for i, s := range []chan int{s1, s2} {
			select {
			case code := <-s:
				t.Fatalf("stalled upload %d answered %d", i+1, code)
			default:
			}
		}
		if code, _ := g.Upload(t, custTok, conv, "cat.png", png); code != http.StatusTooManyRequests {
			t.Fatalf("third upload while two are in progress: %d, want 429", code)
		}
		for _, s := range []chan int{s1, s2} {
			if code := statusWithin(t, s, 3*apptest.Wait); code == http.StatusOK {
				t.Fatalf("stalled upload stored")
			}
		}
		if code, _ := g.Upload(t, custTok, conv, "cat.png", png); code != http.StatusOK {
			t.Fatalf("upload after the stalled ones ended: %d", code)
		}
	})
	t.Run("slow upload within its deadline", func(t *testing.T) {
		// The server's HTTP timeout (1 s here) does not apply to uploads: theirs does.
		g := e.Gateway(func(c *app.Config) {
			c.Gateway.HTTPTimeout = time.Second
			c.Gateway.UploadTimeout = 20 * time.Second
		})
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/attachments", pr)
		req.Header.Set("Authorization", "Bearer "+custTok)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		go func() {
			_ = mw.WriteField("conv", conv)
			fw, _ := mw.CreateFormFile("file", "slow.png")
			_, _ = fw.Write(png)
			for range 5 { // a slow link: 2.5 s for the body, past the HTTP timeout
				time.Sleep(500 * time.Millisecond)
				_, _ = fw.Write(make([]byte, 1000))
			}
			_ = mw.Close()
			_ = pw.Close()
		}()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("slow upload: %d", resp.StatusCode)
		}
	})
	t.Run("a flood of refused uploads waits on its answers", func(t *testing.T) {
		// Each refused upload used to be answered at once, so a client refused at full speed
		// made the gateway accept, check and close hundreds of connections a second. A refusal
		// is now answered after refusal_delay: four clients at full speed for 2 s get
		// at most four answers per delay, and every one is a refusal.
		const workers, delay, run = 4, 500 * time.Millisecond, 2 * time.Second
		g := e.Gateway(func(c *app.Config) { c.Gateway.RefusalDelay = delay })
		stranger := apptest.Token(t, "acme", "flooder", frames.RoleCustomer)
		var answered, wrong atomic.Int64
		stop := time.Now().Add(run)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for time.Now().Before(stop) {
					code, _ := g.Upload(t, stranger, conv, "cat.png", png)
					answered.Add(1)
					// 429 when the user's two upload places are taken by the other workers.
					if code != http.StatusForbidden && code != http.StatusTooManyRequests {
						wrong.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n, most := answered.Load(), int64(workers*(int(run/delay)+1)); n > most {
			t.Fatalf("%d refusals answered in %s to %d clients, want at most %d", n, run, workers, most)
		}
		if w := wrong.Load(); w > 0 {
			t.Fatalf("%d answers other than 403 or 429", w)
		}
	})
	t.Run("file name", func(t *testing.T) {
		code, out := g.Upload(t, custTok, conv, "evil\u202egnp.exe", png)
		if code != http.StatusOK || out["name"] != "evilgnp.png" {
			t.Fatalf("upload: %d name %q, want evilgnp.png", code, out["name"])
		}
	})
}

// closedWithin reads conn until the server closes it, failing if it has not within d. What was
// read is returned.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s (read %q)", d, b)
	}
	return string(b)
}

func dialTCP(t *testing.T, g *apptest.Gateway) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestSlowClientsCutOff: only the header read had a timeout, so idle keep-alives and stalled
// bodies stayed open, and an SSE client that stopped reading kept its session (its writer
// ignored deadlines). Now every non-upgrade request has a deadline, keep-alives an idle
// timeout, SSE writes a deadline that an abort expires, and connections from one address a cap
// with a 503.
func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) {
		c.Gateway.HTTPTimeout = time.Second
		c.Gateway.IdleTimeout = time.Second
		c.Gateway.PingInterval = 300 * time.Millisecond
		c.Gateway.DeadTimeout = time.Second
		c.Gateway.WriteTimeout = time.Second
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dialTCP(t, g)
		_, _ = io.WriteString(conn, "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := closedWithin(t, conn, apptest.Wait); !strings.HasPrefix(got, "HTTP/1.1 404") {
			t.Fatalf("answer %q", got)
		}
	})
	t.Run("stalled visitors body", func(t *testing.T) {
		conn := dialTCP(t, g)
		_, _ = io.WriteString(conn, "POST /v1/visitors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 100\r\n\r\n{\"tenant\":")
		closedWithin(t, conn, apptest.Wait)
	})
	t.Run("sse client that stops reading", func(t *testing.T) {
		k := apptest.Token(t, "roomy", "sloth", frames.RoleCustomer)
		ws, _ := g.Dial(t, k, apptest.DialOpts{Proto: true})
		ws.Send(apptest.Text("s0", "", "open"))
		conv := ws.Await(frames.TypeAck).GetConv()
		// A small receive buffer (which also stops the kernel growing it) so the server's writes
		// block once its own send buffer is full, as behind a client that stopped reading.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		conn, err := d.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_, _ = io.WriteString(conn, "GET /v1/sse?token="+k+" HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(apptest.Wait))
		if n, err := conn.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
			t.Fatalf("sse answer %q %v", buf[:n], err)
		}
		if n := g.Sessions().UserSessions("roomy", "sloth"); n != 2 {
			t.Fatalf("%d sessions, want the websocket and the stream", n)
		}
		// Several MB of frames the stream's reader never takes: its writes block.
		big := strings.Repeat("<", session.MaxTextBytes)
		for i := range 60 {
			id := fmt.Sprintf("s%d", i+1)
			ws.Send(apptest.Text(id, conv, big))
			ws.Await(frames.TypeAck, apptest.HasID(id))
		}
		testkit.CheckFor(t, 3*apptest.Wait, 50*time.Millisecond, func() error {
			if n := g.Sessions().UserSessions("roomy", "sloth"); n != 1 {
				return fmt.Errorf("%d sessions, want the websocket's only", n)
			}
			return nil
		})
	})
	t.Run("connections per address", func(t *testing.T) {
		// A gateway of its own, whose header timeout (10 s) outlasts the silent connections
		// below.
		g := e.Gateway(func(c *app.Config) { c.Gateway.MaxConnectionsPerAddress = 8 })
		var conns []net.Conn
		for range 12 {
			conns = append(conns, dialTCP(t, g))
		}
		refused := 0
		for _, conn := range conns {
			_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			b := make([]byte, 64)
			n, _ := conn.Read(b)
			if strings.HasPrefix(string(b[:n]), "HTTP/1.1 503") {
				refused++
			}
		}
		if refused < len(conns)-8 {
			t.Fatalf("%d of %d connections from one address refused, cap 8", refused, len(conns))
		}
		for _, c := range conns {
			_ = c.Close()
		}
		// Until the gateway has seen the closes, a new connection may still be refused at accept
		// (503 and close, possibly before the request is read): each try is a connection of its
		// own, and a refused one is retried rather than fatal.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		defer client.CloseIdleConnections()
		ping := string(frames.AppendClientJSON(nil, &fd.ClientFrame{Type: frames.TypePing}))
		testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, func() error {
			req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/sse", strings.NewReader(ping))
			req.Header.Set("Authorization", "Bearer "+apptest.Token(t, "acme", "after", frames.RoleCustomer))
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("request after closing: %w", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("request after closing: %d", resp.StatusCode)
			}
			return nil
		})
	})
}

// TestReplyBudget: within the frame limits a user could pull a conversation of big messages
// again and again, some 80 MB/s of JSON from one gateway. Replies (sync replays, history pages)
// now come out of a per-user budget in bytes: a replay of 3 MB at 512 KiB/s, after a burst of
// 1 MiB, takes seconds, and still delivers everything.
func TestReplyBudget(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) { c.Gateway.ReplyBytesPerSecond = 512 << 10 })
	k := apptest.Token(t, "roomy", "greedy", frames.RoleCustomer)
	sender, _ := g.Dial(t, k, apptest.DialOpts{Proto: true})
	const n = 16
	big := strings.Repeat("<", session.MaxTextBytes)
	conv := ""
	for i := range n {
		id := fmt.Sprintf("g%d", i)
		sender.Send(apptest.Text(id, conv, big))
		conv = sender.Await(frames.TypeAck, apptest.HasID(id)).GetConv()
	}
	c, _ := g.Dial(t, k)
	start := time.Now()
	c.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv, After: apptest.I64(0)})
	// Counted by seq: the newest message may also reach the new session live, just before the
	// sync (clients keep one copy per seq).
	seqs := map[int64]bool{}
	for {
		f := c.Next()
		if f.GetType() == frames.TypeMessage && f.GetText() == big {
			seqs[f.GetSeq()] = true
		}
		if f.GetType() == frames.TypeSynced {
			if !f.GetRecovered() {
				t.Fatalf("synced = %v", f)
			}
			break
		}
	}
	// 16 x 192 KiB of JSON: 3 MiB, 1 MiB at once, the rest at 512 KiB/s.
	if took := time.Since(start); len(seqs) != n || took < 3*time.Second {
		t.Fatalf("replayed %d of %d in %s, want all in 3 s or more", len(seqs), n, took)
	}
}
