// Command loadgen drives a running gateway with many WebSocket sessions and reports what it
// saw: connection success, messages sent, acked and delivered, send-to-delivery latency
// percentiles (timed from each message's scheduled send time, so a stalled system cannot hide
// its backlog: no coordinated omission), lost messages and the gateway's RSS per connection.
//
//	loadgen nats  -addr 127.0.0.1:4222 -store DIR      embedded JetStream server for gateway-only runs
//	loadgen idle  -n 10000 -procs 5 ...                 N idle sessions spread over processes and 127.0.0.x
//	loadgen chat  -customers 1000 -agents 100 -rate 1   customers chatting with agents at a constant rate
//	loadgen attack -kind post|sync|upload|slow          one attacker at full speed (attack.go)
//	loadgen upgrades -rate 1000 -keys FILE              authenticated upgrades, a process of their own (upgrades.go)
//
// In a gateway-only setup (no dispatcher) chat performs the dispatcher's assignment itself,
// exactly as the contract describes it (internal/dispatchertest); against the whole system, pass
// -assign=false: agents declare themselves available and the dispatcher assigns (use a tenant
// without bot, so conversations start queued).
package main

import (
	"bufio"
	"context"
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
		return errors.New("usage: loadgen nats|idle|chat|attack|upgrades|keys|keys-eddsa [flags]")
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
	case "upgrades":
		return runUpgrades(ctx, args[2:], out)
	case "keys-eddsa":
		return writeEdDSAKeys(out)
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
	conns, _ := t.metric(ctx, "frontdesk_gateway_connections")
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
