package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/procs"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// TestMain stops the throwaway Postgres cluster testkit.Database may have started.
func TestMain(m *testing.M) { testkit.Main(m) }

// EnvBin names a directory holding prebuilt service binaries (make test-faults sets it to
// bin/); without it the tests build them once per test binary.
const EnvBin = "FRONTDESK_BIN"

var built struct {
	once sync.Once
	dir  string
	err  error
}

// binaries returns the directory of the gateway, dispatcher, persister, aibridge and loadgen
// binaries: FRONTDESK_BIN, else built from this checkout into a cache directory (go build is
// incremental, so later runs cost little).
func binaries(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(EnvBin); dir != "" {
		for _, n := range stack.Names() {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				t.Fatalf("%s=%s: %v", EnvBin, dir, err)
			}
		}
		return dir
	}
	built.once.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			built.err = err
			return
		}
		built.dir = filepath.Join(os.TempDir(), "frontdesk-e2e-bin")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		pkgs := []string{"./gateway/cmd/loadgen"}
		for _, n := range stack.Names() {
			pkgs = append(pkgs, "./"+n+"/cmd/"+n)
		}
		built.err = procs.Build(ctx, root, built.dir, pkgs...)
	})
	if built.err != nil {
		t.Fatalf("build services: %v", built.err)
	}
	return built.dir
}

// SystemOptions configure StartSystem.
type SystemOptions struct {
	// NATSURL is the NATS server or cluster (comma-separated) the services use.
	NATSURL string
	// Replicas of streams and buckets (default 1).
	Replicas int
	// Tenants are seeded before the services start (default: the demo tenant).
	Tenants []*fd.Tenant
	// Extra environment per service.
	Extra map[string][]string
	// DatabaseURL is the persister's database (default: a fresh one from testkit.Database).
	DatabaseURL string
	// BeforeStart runs once NATS is provisioned and seeded, before the services start (a test
	// takes their dependencies away there).
	BeforeStart func()
	// NoWait returns as soon as the services are started, without waiting until they are ready.
	NoWait bool
}

// System is the four services running as separate processes against real NATS and Postgres.
type System struct {
	t      testing.TB
	Set    stack.Settings
	Base   string // the gateway's http://127.0.0.1:port
	Secret string
	DB     *pgxpool.Pool
	Procs  map[string]*procs.Proc
	logDir string
}

// demoTenants returns the demo tenants file's tenants, knowledge paths resolved.
func demoTenants(t testing.TB) []*fd.Tenant {
	t.Helper()
	ts, err := stack.LoadTenants(filepath.Join("..", "demo", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// tenantLike returns a copy of the demo tenant named id, changed by edit (may be nil).
func tenantLike(t testing.TB, id string, edit func(*fd.Tenant)) *fd.Tenant {
	t.Helper()
	for _, d := range demoTenants(t) {
		if d.GetId() == "demo" {
			c := proto.Clone(d).(*fd.Tenant)
			c.Id = id
			if edit != nil {
				edit(c)
			}
			return c
		}
	}
	t.Fatal("no demo tenant in demo/tenants.yaml")
	return nil
}

// freeAddrs returns n distinct free loopback addresses. Their listeners are held until all n
// are chosen: a port closed at once may be handed out again by the next listen on port 0, and
// two services given the same ops port start one and fail the other (whose readiness check
// the first then answers).
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	}
	return addrs
}

// StartSystem provisions and seeds NATS, creates a fresh database and starts the services as
// processes, returning once every one is ready. Everything stops in t.Cleanup; when the test
// failed, the tail of each service's log is printed.
func StartSystem(t testing.TB, o SystemOptions) *System {
	t.Helper()
	bin := binaries(t)
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Tenants == nil {
		o.Tenants = demoTenants(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	nc, _ := testkit.Connect(t, o.NATSURL)
	if err := stack.Provision(ctx, nc, o.Replicas); err != nil {
		t.Fatal(err)
	}
	if err := stack.SeedTenants(ctx, nc, o.Tenants); err != nil {
		t.Fatal(err)
	}
	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = testkit.Database(t)
	}
	// Every simulated customer gets its visitor token from 127.0.0.1, which the gateway's
	// per-address visitor limit would rightly treat as one very busy client.
	extra := map[string][]string{stack.Gateway: {"FRONTDESK_GATEWAY_VISITOR_RATE=100000", "FRONTDESK_GATEWAY_VISITOR_BURST=10000"}}
	for svc, env := range o.Extra {
		extra[svc] = append(extra[svc], env...)
	}

	s := &System{t: t, Secret: "e2e-development-secret-0123456789abcdef", Procs: map[string]*procs.Proc{}, logDir: t.TempDir()}
	addrs := freeAddrs(t, 1+len(stack.Names()))
	listen := addrs[0]
	s.Base = "http://" + listen
	s.Set = stack.Settings{
		NATSURL:         o.NATSURL,
		DatabaseURL:     dbURL,
		JWTSecret:       s.Secret,
		DevTenants:      []string{"*"},
		SigningKeysFile: keysFile(t),
		GatewayListen:   listen,
		Ops:             map[string]string{},
		LogLevel:        "info",
		LogFormat:       "console",
		Replicas:        o.Replicas,
		Extra:           extra,
	}
	for i, n := range stack.Names() {
		s.Set.Ops[n] = addrs[1+i]
	}
	t.Cleanup(s.stop)
	if o.BeforeStart != nil {
		o.BeforeStart()
	}
	for _, n := range stack.Names() {
		logFile, err := os.Create(filepath.Join(s.logDir, n+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = logFile.Close() })
		p, err := procs.Start(procs.Spec{
			Name: n, Bin: filepath.Join(bin, n), Env: s.Set.Env(n), OpsAddr: s.Set.OpsAddr(n), Output: logFile,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Procs[n] = p
		if o.NoWait {
			continue
		}
		if err := p.WaitReady(ctx); err != nil {
			t.Fatalf("%v\n%s", err, s.logTail(n))
		}
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s.DB = pool
	return s
}

func (s *System) stop() {
	for _, n := range []string{stack.Gateway, stack.AIBridge, stack.Dispatcher, stack.Persister} {
		if p := s.Procs[n]; p != nil {
			if err := p.Stop(15 * time.Second); err != nil {
				s.t.Logf("stop %s: %v", n, err)
			}
		}
	}
	if s.t.Failed() {
		for _, n := range stack.Names() {
			s.t.Logf("---- %s log (tail) ----\n%s", n, s.logTail(n))
		}
	}
}

// logTail returns the last lines of a service's output.
func (s *System) logTail(svc string) string {
	b, err := os.ReadFile(filepath.Join(s.logDir, svc+".log"))
	if err != nil {
		return err.Error()
	}
	const max = 12000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Kill kills service svc with SIGKILL.
func (s *System) Kill(svc string) {
	s.Procs[svc].Kill()
}

// Restart starts a killed or stopped service again and waits until it is ready.
func (s *System) Restart(t testing.TB, svc string) {
	t.Helper()
	p := s.Procs[svc]
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatalf("%v\n%s", err, s.logTail(svc))
	}
}

// Token signs a token for tenant.
func (s *System) Token(t testing.TB, c token.Claims) string {
	t.Helper()
	tok, err := token.Sign([]byte(s.Secret), c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Customer gets a visitor token of tenant and connects.
func (s *System) Customer(t testing.TB, ctx context.Context, tenant, name string) (*wsclient.Client, string, string) {
	t.Helper()
	tok, user, err := wsclient.Visitor(ctx, s.Base, tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsclient.Dial(ctx, s.Base, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, tok, user
}

// Agent connects an agent of tenant with capacity maxChats and says it is available.
func (s *System) Agent(t testing.TB, ctx context.Context, tenant, id, name string, maxChats int) *wsclient.Client {
	t.Helper()
	tok := s.Token(t, token.Claims{Subject: id, Tenant: tenant, Role: frames.RoleAgent, Name: name, MaxChats: maxChats})
	c, err := wsclient.Dial(ctx, s.Base, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Send(ctx, &fd.ClientFrame{Type: frames.TypeStatus, Id: "status-" + id, Status: frames.StatusAvailable}); err != nil {
		t.Fatal(err)
	}
	return c
}

// Dial connects with a token.
func (s *System) Dial(t testing.TB, ctx context.Context, tok string) *wsclient.Client {
	t.Helper()
	c, err := wsclient.Dial(ctx, s.Base, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// row is one persisted message.
type row struct {
	Seq                  int64
	ID, ClientID, Sender string
	Role, Text           string
	Conv                 string
	CreatedAt            time.Time
}

// Messages returns the persisted messages of conv in seq order.
func (s *System) Messages(ctx context.Context, tenant, conv string) ([]row, error) {
	rows, err := s.DB.Query(ctx, `SELECT seq, id, client_id, sender_id, sender_role, text, conv, created_at
		FROM messages WHERE tenant = $1 AND conv = $2 ORDER BY seq`, tenant, conv)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.Seq, &r.ID, &r.ClientID, &r.Sender, &r.Role, &r.Text, &r.Conv, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EventTypes returns the persisted event types of conv in stream order.
func (s *System) EventTypes(ctx context.Context, tenant, conv string) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT type FROM events WHERE tenant = $1 AND conv = $2 ORDER BY seq`, tenant, conv)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ string
		if err := rows.Scan(&typ); err != nil {
			return nil, err
		}
		out = append(out, typ)
	}
	return out, rows.Err()
}

// sent is a message a client sent and got an ack for.
type sent struct {
	conv, sender, clientID, text string
	seq                          int64
}

// send sends a text message and waits for its ack.
func send(t testing.TB, ctx context.Context, c *wsclient.Client, conv, id, text string) sent {
	t.Helper()
	ack, err := c.Do(ctx, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: conv, Kind: frames.KindText, Text: text})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	if ack.GetConv() == "" || ack.GetSeq() <= 0 {
		t.Fatalf("ack without conv or seq: %v", ack)
	}
	if conv != "" && ack.GetConv() != conv {
		t.Fatalf("ack for conv %s, sent to %s", ack.GetConv(), conv)
	}
	return sent{conv: ack.GetConv(), clientID: id, text: text, seq: ack.GetSeq()}
}

// wait waits for a frame matching match on c, failing the test if none comes.
func wait(t testing.TB, ctx context.Context, c *wsclient.Client, match func(*fd.ServerFrame) bool) *fd.ServerFrame {
	t.Helper()
	f, err := c.Wait(ctx, match)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func describe(f *fd.ServerFrame) string { return string(frames.AppendJSON(nil, f)) }

// keysFile writes a gateway key set for the test.
func keysFile(t testing.TB) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gateway-keys.json")
	if _, err := stack.Keys(f); err != nil {
		t.Fatal(err)
	}
	return f
}
