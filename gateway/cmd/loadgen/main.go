// Command loadgen drives a running gateway with many WebSocket sessions and reports what it
// saw: connection success, messages sent, acked and delivered, send-to-delivery latency
// percentiles (timed from each message's scheduled send time, so a stalled system cannot hide
// its backlog: no coordinated omission), lost messages and the gateway's RSS per connection.
//
//	loadgen nats  -addr 127.0.0.1:4222 -store DIR      embedded JetStream server for gateway-only runs
//	loadgen idle  -n 10000 -procs 5 ...                 N idle sessions spread over processes and 127.0.0.x
//	loadgen chat  -customers 1000 -agents 100 -rate 1   customers chatting with agents at a constant rate
//	loadgen attack -kind post|sync|upload|slow          one attacker at full speed (attack.go)
//
// In a gateway-only setup (no dispatcher) chat performs the dispatcher's assignment itself,
// exactly as the contract describes it (internal/dispatchertest); against the whole system, pass
// -assign=false: agents declare themselves available and the dispatcher assigns (use a tenant
// without bot, so conversations start queued).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/streams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: loadgen nats|idle|chat|attack|keys [flags]")
	}
	switch args[1] {
	case "nats":
		return runNATS(ctx, args[2:], out)
	case "idle":
		return runIdle(ctx, args[0], args[2:], out)
	case "idle-child":
		return runIdleChild(ctx, args[2:], out)
	case "chat":
		return runChat(ctx, args[2:], out)
	case "attack":
		return runAttack(ctx, args[2:], out)
	case "keys":
		// A gateway key set for a throwaway gateway (bench.sh).
		b, err := token.GenerateKeys(nil)
		if err != nil {
			return err
		}
		_, err = out.Write(append(b, '\n'))
		return err
	}
	return fmt.Errorf("unknown command %q", args[1])
}

// common flags
type target struct {
	url      string
	ops      string
	secret   string
	tenant   string
	compress bool
	rx, tx   atomic.Int64 // bytes on the wire, all connections
}

// countingConn counts the bytes a connection carries (compression figures).
type countingConn struct {
	net.Conn
	t *target
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.t.rx.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.t.tx.Add(int64(n))
	return n, err
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.url, "url", "http://127.0.0.1:8080", "gateway public base URL")
	fs.StringVar(&t.ops, "ops", "http://127.0.0.1:9090", "gateway ops base URL (RSS, forced GC); empty to skip")
	fs.StringVar(&t.secret, "secret", os.Getenv("FRONTDESK_GATEWAY_DEV_SECRET"), "the gateway's development secret, for tokens of development tenants (default $FRONTDESK_GATEWAY_DEV_SECRET; make run saves it in .data/jwt-secret)")
	fs.StringVar(&t.tenant, "tenant", "load", "tenant")
	fs.BoolVar(&t.compress, "compress", false, "offer permessage-deflate (the tenant decides; see tenant loadz)")
}

func (t *target) token(user, role string) (string, error) {
	return token.Sign([]byte(t.secret), token.Claims{Subject: user, Tenant: t.tenant, Role: role, Name: user, MaxChats: 1000}, 24*time.Hour)
}

// dial opens a session from a source address (spreading sockets over 127.0.0.x keeps each
// source below the ephemeral port range) and returns it after welcome.
func (t *target) dial(ctx context.Context, user, role string, src net.IP) (*websocket.Conn, *fd.ServerFrame, error) {
	tok, err := t.token(user, role)
	if err != nil {
		return nil, nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, t}, nil
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: dial}}
	mode := websocket.CompressionDisabled
	if t.compress {
		mode = websocket.CompressionContextTakeover
	}
	u := strings.Replace(t.url, "http", "ws", 1) + "/v1/ws"
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{frames.SubprotocolJSON},
		CompressionMode: mode,
		HTTPHeader:      http.Header{"Authorization": {"Bearer " + tok}}})
	if err != nil {
		return nil, nil, err
	}
	c.SetReadLimit(1 << 20)
	_, data, err := c.Read(ctx)
	if err != nil {
		_ = c.CloseNow()
		return nil, nil, err
	}
	w := &fd.ServerFrame{}
	if err := protojson.Unmarshal(data, w); err != nil || w.GetType() != frames.TypeWelcome {
		_ = c.CloseNow()
		return nil, nil, fmt.Errorf("first frame %q: %v", data, err)
	}
	return c, w, nil
}

// gatewayRSS forces a collection in the gateway and returns its RSS in bytes.
func (t *target) gatewayRSS(ctx context.Context) (float64, error) {
	if t.ops == "" {
		return 0, errors.New("no ops URL")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.ops+"/debug/gc", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("forced GC: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		// RSS without the collection would not be comparable with BENCHMARKS.md.
		return 0, fmt.Errorf("forced GC: POST %s/debug/gc = %s: start the gateway with FRONTDESK_OPS_DEBUG=true", t.ops, resp.Status)
	}
	time.Sleep(time.Second)
	return t.metric(ctx, "process_resident_memory_bytes")
}

func (t *target) metric(ctx context.Context, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.ops+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum += v
				found = true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, nil
}

// runNATS runs a JetStream server for gateway-only load runs.
func runNATS(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4222", "listen address")
	store := fs.String("store", "", "JetStream store directory (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	p, _ := strconv.Atoi(port)
	dir := *store
	if dir == "" {
		if dir, err = os.MkdirTemp("", "loadgen-nats-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	s, err := server.NewServer(&server.Options{Host: host, Port: p, JetStream: true, StoreDir: dir, NoSigs: true,
		MaxPayload: 8 << 20})
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("nats not ready")
	}
	// The gateway only waits for the topology (it may not create it): provision it here, as
	// the provisioning Job does in a deployment.
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		s.Shutdown()
		return err
	}
	err = provision(ctx, nc)
	nc.Close()
	if err != nil {
		s.Shutdown()
		return err
	}
	fmt.Fprintln(out, "nats ready on", s.ClientURL())
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

func provision(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return streams.Provision(ctx, js, streams.Declared(streams.Options{Replicas: 1}))
}

// runIdle spreads n idle sessions over procs child processes, each on its own source address,
// so neither the per-process open-file limit nor a source address's port range is hit.
func runIdle(ctx context.Context, self string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	var t target
	t.flags(fs)
	n := fs.Int("n", 10000, "connections")
	procs := fs.Int("procs", 5, "child processes (each holds n/procs sockets)")
	rate := fs.Int("rate", 1000, "connections opened per second, overall")
	settle := fs.Duration("settle", 10*time.Second, "wait after the last connection before measuring")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, err := t.gatewayRSS(ctx)
	if err != nil {
		return fmt.Errorf("baseline RSS: %w", err)
	}
	stackBase, _ := t.metric(ctx, "go_memstats_stack_inuse_bytes")
	heapBase, _ := t.metric(ctx, "go_memstats_heap_inuse_bytes")
	per := *n / *procs
	type child struct {
		cmd   *exec.Cmd
		stdin io.Closer
		lines *bufio.Scanner
	}
	var children []child
	defer func() {
		for _, c := range children {
			_ = c.stdin.Close()
			_ = c.cmd.Wait()
		}
	}()
	start := time.Now()
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	for i := range *procs {
		cmd := exec.CommandContext(ctx, self, "idle-child", "-url", t.url, "-secret", t.secret, "-tenant", t.tenant,
			"-n", strconv.Itoa(per), "-prefix", fmt.Sprintf("idle%s_%d_", run, i), "-src", fmt.Sprintf("127.0.0.%d", 2+i),
			"-rate", strconv.Itoa(max(1, *rate / *procs)))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		children = append(children, child{cmd, stdin, bufio.NewScanner(stdout)})
	}
	ok, failed := 0, 0
	for _, c := range children {
		if !c.lines.Scan() {
			return errors.New("child ended early")
		}
		var o, f int
		if _, err := fmt.Sscanf(c.lines.Text(), "ready %d %d", &o, &f); err != nil {
			return fmt.Errorf("child said %q", c.lines.Text())
		}
		ok += o
		failed += f
	}
	opened := time.Since(start)
	time.Sleep(*settle)
	rss, err := t.gatewayRSS(ctx)
	if err != nil {
		return err
	}
	conns, _ := t.metric(ctx, "gateway_connections")
	stack, _ := t.metric(ctx, "go_memstats_stack_inuse_bytes")
	heap, _ := t.metric(ctx, "go_memstats_heap_inuse_bytes")
	defer fmt.Fprintf(out, "of which Go stacks %.1f KB and Go heap in use %.1f KB per connection\n",
		(stack-stackBase)/float64(max(ok, 1))/1000, (heap-heapBase)/float64(max(ok, 1))/1000)
	fmt.Fprintf(out, "idle: %d connections requested over %d processes, %d open (%d failed) in %s; gateway reports %.0f\n",
		*n, *procs, ok, failed, opened.Round(time.Millisecond), conns)
	fmt.Fprintf(out, "gateway RSS: %.1f MiB before, %.1f MiB with connections (after forced GC): %.1f KB per connection\n",
		base/(1<<20), rss/(1<<20), (rss-base)/float64(max(ok, 1))/1000)
	return nil
}

func runIdleChild(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("idle-child", flag.ContinueOnError)
	var t target
	t.flags(fs)
	n := fs.Int("n", 1000, "connections")
	prefix := fs.String("prefix", "idle_", "user id prefix")
	src := fs.String("src", "", "source address")
	rate := fs.Int("rate", 200, "connections per second")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ip net.IP
	if *src != "" {
		ip = net.ParseIP(*src)
	}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*websocket.Conn
	every := time.Second / time.Duration(*rate)
	sem := make(chan struct{}, 64)
	for i := range *n {
		time.Sleep(every)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, _, err := t.dial(ctx, fmt.Sprintf("%s%d", *prefix, i), frames.RoleCustomer, ip)
			if err != nil {
				failed.Add(1)
				return
			}
			ok.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			// Reading answers the gateway's pings.
			go func() {
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "ready %d %d\n", ok.Load(), failed.Load())
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
	for _, c := range conns {
		_ = c.CloseNow()
	}
	return nil
}

// chat run state
type chatRun struct {
	t        target
	sent     sync.Map // client id -> scheduled time (time.Time)
	acked    atomic.Int64
	nsent    atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	lat      []time.Duration // customer -> agent
	echo     []time.Duration // customer -> own session
	seen     sync.Map        // client id -> struct{} (delivered to the agent)
	dups     atomic.Int64
	assigned atomic.Int64
	closed   atomic.Int64 // conversations a customer saw closed
}

func runChat(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	r := &chatRun{}
	r.t.flags(fs)
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS URL (assignment in gateway-only runs)")
	customers := fs.Int("customers", 1000, "customer sessions")
	agents := fs.Int("agents", 100, "agent sessions; conversations are spread over them")
	rate := fs.Float64("rate", 1, "messages per second per customer")
	duration := fs.Duration("duration", 60*time.Second, "measured sending time")
	drain := fs.Duration("drain", 10*time.Second, "longest wait for outstanding deliveries")
	doAssign := fs.Bool("assign", true, "assign conversations to agents (gateway-only setup: no dispatcher)")
	upgrades := fs.Float64("upgrades", 0, "authenticated socket upgrades per second while sending (each opens a session with an ES256 visitor token of the gateway, reads welcome, closes)")
	upgradeKeys := fs.String("upgrade-keys", "", "the gateway's key set file: each upgrade then gets a visitor token of its own, signed here, instead of sharing one (bench.sh passes it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	var nc *nats.Conn
	var js jetstream.JetStream
	if *doAssign {
		var err error
		if nc, err = nats.Connect(*natsURL); err != nil {
			return err
		}
		defer nc.Close()
		if js, err = jetstream.New(nc); err != nil {
			return err
		}
	}
	// Agents.
	agentConns := make([]*websocket.Conn, *agents)
	for i := range *agents {
		c, _, err := r.t.dial(ctx, fmt.Sprintf("ag%s_%d", run, i), frames.RoleAgent, nil)
		if err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		defer c.CloseNow()
		agentConns[i] = c
		go r.readAgent(c)
		if !*doAssign {
			// The dispatcher routes only to available agents, and a new agent is away until
			// it says otherwise (proto/README.md, Agents).
			if err := write(ctx, c, &fd.ClientFrame{Type: frames.TypeStatus, Id: "status", Status: frames.StatusAvailable}); err != nil {
				return fmt.Errorf("agent %d status: %w", i, err)
			}
		}
	}
	// Customers: connect, open a conversation with a first message, get it assigned.
	type cust struct {
		c    *websocket.Conn
		conv string
		acks chan string
	}
	custs := make([]*cust, *customers)
	var setup sync.WaitGroup
	errc := make(chan error, *customers)
	sem := make(chan struct{}, 32)
	t0 := time.Now()
	for i := range *customers {
		sem <- struct{}{}
		setup.Go(func() {
			defer func() { <-sem }()
			c, _, err := r.t.dial(ctx, fmt.Sprintf("cu%s_%d", run, i), frames.RoleCustomer, nil)
			if err != nil {
				errc <- err
				return
			}
			cu := &cust{c: c, acks: make(chan string, 1)}
			custs[i] = cu
			go r.readCustomer(c, cu.acks)
			if err := write(ctx, c, &fd.ClientFrame{Type: frames.TypeSend, Id: "open", Kind: frames.KindText, Text: "hello"}); err != nil {
				errc <- err
				return
			}
			select {
			case cu.conv = <-cu.acks:
			case <-time.After(20 * time.Second):
				errc <- errors.New("no ack for the first message")
				return
			}
			if *doAssign {
				agent := &fd.Participant{Id: fmt.Sprintf("ag%s_%d", run, i%*agents), Role: frames.RoleAgent}
				if err := dispatchertest.Assign(ctx, nc, js, r.t.tenant, cu.conv, agent); err != nil {
					errc <- err
				}
			}
		})
	}
	setup.Wait()
	close(errc)
	nerr := 0
	for err := range errc {
		if nerr == 0 {
			fmt.Fprintln(out, "setup error:", err)
		}
		nerr++
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.assigned.Load() < int64(*customers-nerr) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(out, "setup: %d customers, %d agents, %d conversations assigned in %s (%d failed)\n",
		*customers, *agents, r.assigned.Load(), time.Since(t0).Round(time.Millisecond), nerr)
	rssBase, _ := r.t.metric(ctx, "process_resident_memory_bytes")
	rx0, tx0 := r.t.rx.Load(), r.t.tx.Load()

	// Constant-rate senders: message k of customer i is due at start + offset_i + k*period,
	// whatever happened to the previous ones.
	period := time.Duration(float64(time.Second) / *rate)
	start := time.Now().Add(500 * time.Millisecond)
	end := start.Add(*duration)
	var senders sync.WaitGroup
	for i, cu := range custs {
		if cu == nil || cu.conv == "" {
			continue
		}
		offset := time.Duration(int64(period) * int64(i) / int64(len(custs)))
		senders.Go(func() {
			for k := 0; ; k++ {
				due := start.Add(offset + time.Duration(k)*period)
				if due.After(end) {
					return
				}
				time.Sleep(time.Until(due))
				id := fmt.Sprintf("%d.%d", i, k)
				r.sent.Store(id, due)
				r.nsent.Add(1)
				if err := write(ctx, cu.c, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: cu.conv, Kind: frames.KindText,
					Text: "load message " + id}); err != nil {
					r.failed.Add(1)
				}
			}
		})
	}
	var up *upgradeLoad
	if *upgrades > 0 {
		var err error
		if up, err = startUpgrades(ctx, &r.t, *upgrades, *upgradeKeys, start, end); err != nil {
			return err
		}
	}
	senders.Wait()
	if up != nil {
		up.wg.Wait()
		fmt.Fprintf(out, "upgrades: %.0f/s offered for %s: ok %d, failed %d; dial -> welcome: %s\n",
			*upgrades, *duration, up.ok.Load(), up.failed.Load(), percentiles(up.lat))
		if up.firstErr != "" {
			fmt.Fprintf(out, "first failed upgrade: %s\n", up.firstErr)
		}
	}
	deadline = time.Now().Add(*drain)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.lat)
		r.mu.Unlock()
		if int64(n) >= r.acked.Load() && r.acked.Load() >= r.nsent.Load()-r.failed.Load() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss, _ := r.t.metric(ctx, "process_resident_memory_bytes")
	rx, tx := r.t.rx.Load()-rx0, r.t.tx.Load()-tx0
	r.mu.Lock()
	lat, echo := slices.Clone(r.lat), slices.Clone(r.echo)
	r.mu.Unlock()
	lost := r.acked.Load() - int64(len(lat))
	fmt.Fprintf(out, "chat: %d customers x %.2g msg/s for %s: sent %d, acked %d, delivered to agents %d, duplicates %d, send errors %d, lost %d\n",
		len(custs)-nerr, *rate, *duration, r.nsent.Load(), r.acked.Load(), len(lat), r.dups.Load(), r.failed.Load(), max(lost, 0))
	fmt.Fprintf(out, "send -> agent delivery:   %s\n", percentiles(lat))
	fmt.Fprintf(out, "send -> own echo:         %s\n", percentiles(echo))
	fmt.Fprintf(out, "gateway RSS: %.1f MiB at start of sending, %.1f MiB at end\n", rssBase/(1<<20), rss/(1<<20))
	fmt.Fprintf(out, "wire bytes while sending (compression offered: %v): clients received %d (%.0f per frame delivered), sent %d (%.0f per message)\n",
		r.t.compress, rx, float64(rx)/float64(max(1, len(lat)+len(echo)+int(r.acked.Load()))), tx, float64(tx)/float64(max(1, r.nsent.Load())))
	if !*doAssign {
		// Against the whole system, leave it as found: conversations left assigned would be
		// re-queued onto the next run's agents once these agents' grace period ends, and
		// load that run.
		closing := 0
		for _, cu := range custs {
			if cu != nil && cu.conv != "" {
				if write(ctx, cu.c, &fd.ClientFrame{Type: frames.TypeClose, Id: "bye", Conv: cu.conv}) == nil {
					closing++
				}
			}
		}
		deadline = time.Now().Add(*drain)
		for r.closed.Load() < int64(closing) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(out, "closed %d of %d conversations\n", r.closed.Load(), closing)
	}
	if lost > 0 {
		return fmt.Errorf("%d acked messages were not delivered", lost)
	}
	return nil
}

// upgradeLoad opens sessions at a constant rate beside the chat, to show what authenticated
// upgrades cost the chat: each one verifies an ES256 token of the gateway's own keys.
type upgradeLoad struct {
	wg         sync.WaitGroup
	ok, failed atomic.Int64
	mu         sync.Mutex
	lat        []time.Duration
	firstErr   string
}

func startUpgrades(ctx context.Context, t *target, rate float64, keyFile string, start, end time.Time) (*upgradeLoad, error) {
	// With the gateway's keys every upgrade is a visitor of its own (one user's sessions are
	// capped by max_connections_per_user); without, one visitor token serves every upgrade.
	var keys *token.Keys
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, err
		}
		if keys, err = token.ParseKeys(b); err != nil {
			return nil, err
		}
	}
	body, _ := json.Marshal(map[string]string{"tenant": t.tenant})
	resp, err := http.Post(t.url+"/v1/visitors", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("visitor token: %w", err)
	}
	var v struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("visitor token: HTTP %d (the tenant must allow anonymous visitors): %v", resp.StatusCode, err)
	}
	u := &upgradeLoad{}
	period := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, 256)
	u.wg.Go(func() {
		for k := 0; ; k++ {
			due := start.Add(time.Duration(k) * period)
			if due.After(end) {
				return
			}
			time.Sleep(time.Until(due))
			sem <- struct{}{}
			u.wg.Go(func() {
				defer func() { <-sem }()
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				tok := v.Token
				if keys != nil {
					tok, _ = keys.Sign(token.Claims{Subject: fmt.Sprintf("v_up%d", k), Tenant: t.tenant, Role: frames.RoleCustomer,
						Kind: token.KindVisitor, Issuer: "frontdesk", Audience: []string{"frontdesk:" + t.tenant}}, time.Hour)
				}
				c, _, err := websocket.Dial(dctx, strings.Replace(t.url, "http", "ws", 1)+"/v1/ws?token="+tok,
					&websocket.DialOptions{Subprotocols: []string{frames.SubprotocolJSON}})
				if err == nil {
					_, _, err = c.Read(dctx)
					c.CloseNow()
				}
				if err != nil {
					if u.failed.Add(1) == 1 {
						u.mu.Lock()
						u.firstErr = err.Error()
						u.mu.Unlock()
					}
					return
				}
				u.ok.Add(1)
				u.mu.Lock()
				u.lat = append(u.lat, time.Since(due))
				u.mu.Unlock()
			})
		}
	})
	return u, nil
}

func write(ctx context.Context, c *websocket.Conn, f *fd.ClientFrame) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f))
}

func (r *chatRun) readAgent(c *websocket.Conn) {
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now()
		f := &fd.ServerFrame{}
		if protojson.Unmarshal(data, f) != nil {
			continue
		}
		switch f.GetType() {
		case frames.TypeAssigned:
			r.assigned.Add(1)
		case frames.TypeMessage:
			due, ok := r.sent.Load(f.GetClientId())
			if !ok || f.GetFrom().GetRole() != frames.RoleCustomer {
				continue
			}
			if _, dup := r.seen.LoadOrStore(f.GetClientId(), struct{}{}); dup {
				r.dups.Add(1)
				continue
			}
			r.mu.Lock()
			r.lat = append(r.lat, now.Sub(due.(time.Time)))
			r.mu.Unlock()
		}
	}
}

func (r *chatRun) readCustomer(c *websocket.Conn, acks chan string) {
	first := true
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now()
		f := &fd.ServerFrame{}
		if protojson.Unmarshal(data, f) != nil {
			continue
		}
		switch f.GetType() {
		case frames.TypeAck:
			if first {
				first = false
				acks <- f.GetConv()
				continue
			}
			r.acked.Add(1)
		case frames.TypeState:
			if f.GetState() == frames.StateClosed {
				r.closed.Add(1)
			}
		case frames.TypeMessage:
			if due, ok := r.sent.Load(f.GetClientId()); ok {
				r.mu.Lock()
				r.echo = append(r.echo, now.Sub(due.(time.Time)))
				r.mu.Unlock()
			}
		}
	}
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	slices.Sort(d)
	p := func(q float64) time.Duration {
		return d[min(len(d)-1, int(q*float64(len(d))))]
	}
	r := func(x time.Duration) string { return fmt.Sprintf("%.2fms", float64(x)/float64(time.Millisecond)) }
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s p99.9=%s max=%s", len(d), r(p(.5)), r(p(.9)), r(p(.99)), r(p(.999)), r(d[len(d)-1]))
}
