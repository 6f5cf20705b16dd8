package docker_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// lockedBuffer is a process's output, written by exec's copier and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// violations collects the permission violations a nats-server logs.
type violations struct {
	mu    sync.Mutex
	lines []string
}

func (v *violations) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if strings.Contains(line, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, line)
		v.mu.Unlock()
	}
}

func (v *violations) Noticef(string, ...any)    {}
func (v *violations) Tracef(string, ...any)     {}
func (v *violations) Debugf(f string, a ...any) { v.add(f, a...) }
func (v *violations) Warnf(f string, a ...any)  { v.add(f, a...) }
func (v *violations) Errorf(f string, a ...any) { v.add(f, a...) }
func (v *violations) Fatalf(f string, a ...any) { v.add(f, a...) }
func (v *violations) list() []string            { v.mu.Lock(); defer v.mu.Unlock(); return slices.Clone(v.lines) }
func freePort(t *testing.T) string              { return "127.0.0.1:" + fmt.Sprint(listenPort(t)) }
func listenPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	must(t, os.WriteFile(p, b, 0o600))
	return p
}

// TestServicesUnderLeastPrivilege runs the real service binaries against a NATS server that
// enforces the generated permissions, each with its own credentials (as the chart mounts
// them), after the provisioning Job: every service must start (find its streams and buckets, seed or watch tenants,
// create its consumers, subscribe) and become ready, with no permission violation logged, and
// stop cleanly on SIGTERM.
func TestServicesUnderLeastPrivilege(t *testing.T) {
	dir, missing := buildServices(t)
	if len(missing) > 0 {
		t.Skipf("services not there yet: %v", missing)
	}
	dbURL := testkit.Database(t)

	b, err := natsauth.Generate(natsauth.Config{})
	must(t, err)
	tmp := t.TempDir()
	parsed, err := server.ProcessConfigFile(writeFile(t, filepath.Join(tmp, "nats-auth.conf"), b.ServerConfig))
	must(t, err)
	n := testkit.RunNATSWith(t, func(o *server.Options) {
		base := *o
		*o = *parsed
		o.Host, o.Port, o.NoLog, o.NoSigs = base.Host, base.Port, false, base.NoSigs
		o.JetStream, o.StoreDir = true, base.StoreDir
		o.JetStreamMaxMemory, o.JetStreamMaxStore = base.JetStreamMaxMemory, base.JetStreamMaxStore
	})
	viol := &violations{}
	n.Server().SetLogger(viol, true, false)

	root, err := filepath.Abs(filepath.Join("..", ".."))
	must(t, err)
	demo := filepath.Join(root, "deploy", "local", "demo")

	// The provisioning Job: `dispatcher provision` with the provisioner's credentials creates
	// the topology; the services only look it up.
	prov := exec.Command(filepath.Join(dir, "dispatcher"), "provision")
	prov.Env = []string{
		"FRONTDESK_NATS_URL=" + n.URL(),
		"FRONTDESK_NATS_CREDS=" + writeFile(t, filepath.Join(tmp, natsauth.Provisioner+".creds"), b.Creds[natsauth.Provisioner]),
		"FRONTDESK_LOG_LEVEL=info",
	}
	if out, err := prov.CombinedOutput(); err != nil {
		t.Fatalf("dispatcher provision: %v\n%s", err, out)
	}
	if v := viol.list(); len(v) > 0 {
		t.Fatalf("permission violations while provisioning: %q", v)
	}

	type proc struct {
		name string
		cmd  *exec.Cmd
		out  *lockedBuffer
		ops  string
		done chan error
	}
	var procs []*proc
	gatewayAddr := freePort(t)
	// The dispatcher seeds the tenants (the chart's default seeder), so it starts first.
	for _, svc := range []string{"dispatcher", "persister", "aibridge", "gateway"} {
		ops := freePort(t)
		env := []string{
			"FRONTDESK_NATS_URL=" + n.URL(),
			"FRONTDESK_NATS_CREDS=" + writeFile(t, filepath.Join(tmp, svc+".creds"), b.Creds[svc]),
			"FRONTDESK_OPS_ADDR=" + ops,
			"FRONTDESK_LOG_LEVEL=info",
			"FRONTDESK_SHUTDOWN_TIMEOUT=10s",
		}
		switch svc {
		case "dispatcher":
			env = append(env, "FRONTDESK_TENANTS_FILE="+filepath.Join(demo, "tenants.yaml"))
		case "persister":
			env = append(env, "FRONTDESK_DATABASE_URL="+dbURL)
		case "aibridge":
			env = append(env, "FRONTDESK_AIBRIDGE_KNOWLEDGE_ROOT="+demo)
		case "gateway":
			// The gateway's own key maker (`gateway keys`) makes its signing keys.
			keys, err := exec.Command(filepath.Join(dir, "gateway"), "keys").Output()
			must(t, err)
			env = append(env, "FRONTDESK_GATEWAY_LISTEN="+gatewayAddr, "FRONTDESK_GATEWAY_SIGNING_KEYS="+string(keys),
				"FRONTDESK_GATEWAY_DEV_SECRET="+gatewaySecret, "FRONTDESK_GATEWAY_DEV_TENANTS=demo")
		}
		p := &proc{name: svc, out: &lockedBuffer{}, ops: ops, done: make(chan error, 1)}
		p.cmd = exec.Command(filepath.Join(dir, svc))
		p.cmd.Env = env
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		must(t, p.cmd.Start())
		go func() { p.done <- p.cmd.Wait() }()
		procs = append(procs, p)
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("%s output:\n%s", p.name, p.out)
			}
		})
	}

	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range procs {
		testkit.CheckFor(t, 90*time.Second, 100*time.Millisecond, func() error {
			select {
			case err := <-p.done:
				p.done <- err
				return fmt.Errorf("%s exited: %v", p.name, err)
			default:
			}
			resp, err := client.Get("http://" + p.ops + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s /readyz: %s", p.name, resp.Status)
			}
			return nil
		})
	}
	if v := viol.list(); len(v) > 0 {
		t.Errorf("permission violations while starting: %q", v)
	}

	// A customer's conversation through every service: gateway (open, send), aibridge (bot
	// reply), persister (history from the record), dispatcher (handoff to the queue).
	customerFlow(t, "http://"+gatewayAddr, gatewaySecret)
	if v := viol.list(); len(v) > 0 {
		t.Errorf("permission violations during the conversation: %q", v)
	}
	for _, p := range procs {
		if strings.Contains(p.out.String(), "Permissions Violation") {
			t.Errorf("%s reported a permission violation", p.name)
		}
	}

	// Graceful stop, in reverse order.
	for _, p := range slices.Backward(procs) {
		must(t, p.cmd.Process.Signal(syscall.SIGTERM))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		select {
		case err := <-p.done:
			p.done <- err
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM", p.name, err)
			}
		case <-ctx.Done():
			t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
		}
		cancel()
	}
	if v := viol.list(); len(v) > 0 {
		t.Errorf("permission violations while stopping: %q", v)
	}
}

const gatewaySecret = "least-privilege-test-secret-0123456789"

// frame is the part of a server frame the flow reads.
type frame struct {
	Type     string                `json:"type"`
	Session  string                `json:"session"`
	ID       string                `json:"id"`
	Conv     string                `json:"conv"`
	Seq      uint64                `json:"seq"`
	Partial  bool                  `json:"partial"`
	Text     string                `json:"text"`
	State    string                `json:"state"`
	Code     string                `json:"code"`
	From     struct{ Role string } `json:"from"`
	Messages []json.RawMessage     `json:"messages"`
}

// sseClient is one session over the gateway's SSE transport (plain HTTP, so the test needs
// no WebSocket client).
type sseClient struct {
	t       *testing.T
	base    string
	token   string
	session string
	frames  chan frame
}

// origin is allowed by the demo tenant (http://localhost:*).
const origin = "http://localhost:3000"

func httpPost(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	return resp
}

func connectSSE(t *testing.T, base, token string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/sse?token="+token, nil)
	must(t, err)
	req.Header.Set("Origin", origin)
	stream, err := http.DefaultClient.Do(req)
	must(t, err)
	t.Cleanup(func() { stream.Body.Close() })
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("sse: %s", stream.Status)
	}
	c := &sseClient{t: t, base: base, token: token, frames: make(chan frame, 256)}
	go func() {
		defer close(c.frames)
		sc := bufio.NewScanner(stream.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var f frame
			if json.Unmarshal([]byte(data), &f) == nil {
				c.frames <- f
			}
		}
	}()
	c.session = c.await("welcome", func(f frame) bool { return f.Type == "welcome" }).Session
	return c
}

func (c *sseClient) await(what string, match func(frame) bool) frame {
	c.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("stream ended waiting for %s", what)
			}
			if f.Type == "error" {
				c.t.Fatalf("waiting for %s: error frame %+v", what, f)
			}
			if match(f) {
				return f
			}
		case <-timeout:
			c.t.Fatalf("no %s within 60s", what)
		}
	}
}

func (c *sseClient) send(body string) {
	c.t.Helper()
	r := httpPost(c.t, c.base+"/v1/sse?token="+c.token+"&session="+c.session, body)
	r.Body.Close()
	if r.StatusCode != http.StatusAccepted {
		c.t.Fatalf("post %s: %s", body, r.Status)
	}
}

// agentToken signs an HS256 agent token the way a tenant's backend does.
func agentToken(t *testing.T, secret, tenant, agent string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"sub": agent, "tenant": tenant, "role": "agent", "name": "Agent " + agent,
		"exp": time.Now().Add(time.Hour).Unix(), "max_chats": 3})
	must(t, err)
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// customerFlow walks one conversation through every service: the gateway opens it and
// stores the message, the aibridge answers, the persister serves history from Postgres, the
// dispatcher queues it on handoff and assigns it to an agent, whose reply reaches the customer.
func customerFlow(t *testing.T, base, secret string) {
	t.Helper()
	resp := httpPost(t, base+"/v1/visitors", `{"tenant":"demo","name":"Least Privilege"}`)
	var visitor struct{ Token string }
	must(t, json.NewDecoder(resp.Body).Decode(&visitor))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || visitor.Token == "" {
		t.Fatalf("visitor token: %s", resp.Status)
	}
	cust := connectSSE(t, base, visitor.Token)

	cust.send(`{"type":"send","id":"m1","kind":"text","text":"How long does shipping take?"}`)
	ack := cust.await("ack", func(f frame) bool { return f.Type == "ack" && f.ID == "m1" })
	if ack.Conv == "" || ack.Seq == 0 {
		t.Fatalf("ack %+v", ack)
	}
	bot := cust.await("the bot's reply", func(f frame) bool {
		return f.Type == "message" && f.Conv == ack.Conv && !f.Partial && f.From.Role != "customer"
	})
	t.Logf("bot (%s): %.80s", bot.From.Role, bot.Text)

	// The persister answers history from Postgres once it has written the batch.
	testkit.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		cust.send(fmt.Sprintf(`{"type":"history","id":"h","conv":%q,"before":1000000,"limit":10}`, ack.Conv))
		h := cust.await("history", func(f frame) bool { return f.Type == "history" })
		if len(h.Messages) < 2 {
			return fmt.Errorf("history has %d messages", len(h.Messages))
		}
		return nil
	})

	cust.send(fmt.Sprintf(`{"type":"handoff","id":"ho","conv":%q}`, ack.Conv))
	cust.await("queued", func(f frame) bool { return f.Type == "queued" || (f.Type == "state" && f.State == "queued") })

	agent := connectSSE(t, base, agentToken(t, secret, "demo", "a1"))
	agent.send(`{"type":"status","id":"st","status":"available"}`)
	agent.await("assigned", func(f frame) bool { return f.Type == "assigned" && f.Conv == ack.Conv })
	cust.await("assigned", func(f frame) bool {
		return (f.Type == "assigned" || (f.Type == "state" && f.State == "assigned")) && f.Conv == ack.Conv
	})
	agent.send(fmt.Sprintf(`{"type":"send","id":"r1","conv":%q,"kind":"text","text":"Hello, I can help."}`, ack.Conv))
	cust.await("the agent's reply", func(f frame) bool {
		return f.Type == "message" && f.Conv == ack.Conv && f.From.Role == "agent"
	})
}
