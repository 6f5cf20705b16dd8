package main

// The upgrades mode: authenticated WebSocket upgrades at a constant rate, in a process of its
// own and from source addresses of its own, so that measuring what upgrades cost a chat run
// (bench.sh UPGRADES=...) does not also measure this generator's dials and signatures stealing
// the chat clients' CPU inside one process. Each upgrade dials GET /v1/ws with a visitor token
// of the gateway's own keys, reads welcome and closes.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

func runUpgrades(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("upgrades", flag.ContinueOnError)
	var t target
	t.flags(fs)
	rate := fs.Float64("rate", 1000, "upgrades per second")
	duration := fs.Duration("duration", 0, "how long to run (0: until interrupted)")
	keyFile := fs.String("keys", "", "the gateway's key set file (visitor tokens are signed here with its first key)")
	users := fs.Int("users", 0, "0: every upgrade is a new visitor with a token of its own (every token verified once); "+
		"N: N visitors reconnecting in turn with the token they hold (a reconnect storm: each token verified once, then from the gateway's cache)")
	srcs := fs.String("src", "127.0.0.10,127.0.0.11,127.0.0.12,127.0.0.13", "source addresses, used in turn (each keeps its own ephemeral ports)")
	conc := fs.Int("conc", 512, "most upgrades in flight")
	mint := fs.Int("mint", -1, "new visitors' tokens signed before the run starts (-1: rate x duration, or rate x 30 s without a -duration); "+
		"past them each is signed on its schedule. Signing is a quarter of this generator's CPU, which on one machine comes out of the gateway's cores")
	cpuProfile := fs.String("cpuprofile", "", "write this generator's CPU profile to the file (what the clients' side costs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *rate <= 0 {
		return fmt.Errorf("upgrades: -keys and a positive -rate are required")
	}
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	keys, err := token.ParseKeys(b)
	if err != nil {
		return err
	}
	sign := func(i int) (string, error) {
		return keys.Sign(token.Claims{Subject: fmt.Sprintf("v_up%x_%d", os.Getpid(), i), Tenant: t.tenant, Role: frames.RoleCustomer,
			Kind: token.KindVisitor, Issuer: "frontdesk", Audience: []string{"frontdesk:" + t.tenant}}, time.Hour)
	}
	held := make([]string, *users)
	for i := range held {
		if held[i], err = sign(i); err != nil {
			return err
		}
	}
	// New visitors' tokens are signed ahead, so the run itself costs what a client's upgrade
	// costs (dial, request, welcome, close) and not a signature each: in production the tokens
	// are signed by the gateway's token endpoint, earlier and elsewhere.
	var minted []string
	if *users == 0 {
		n := *mint
		if n < 0 {
			d := *duration
			if d <= 0 {
				d = 30 * time.Second
			}
			n = int(*rate * d.Seconds())
		}
		if minted, err = mintTokens(n, sign); err != nil {
			return err
		}
	}
	var clients []*http.Client
	for _, s := range strings.Split(*srcs, ",") {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return fmt.Errorf("upgrades: bad source address %q", s)
		}
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
		clients = append(clients, &http.Client{Transport: &http.Transport{DialContext: d.DialContext}})
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	var (
		wg         sync.WaitGroup
		ok, failed atomic.Int64
		busy       atomic.Int64 // of failed: refused by the gateway's handshake bound (close 1013)
		mu         sync.Mutex
		lat        []time.Duration
		firstErr   string
	)
	// Profiled from here: the run, not the keys and tokens made before it.
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// The gateway's CPU over the run is the figure a loaded, shared machine cannot blur much:
	// latencies there follow everyone's load, CPU seconds per upgrade do not.
	cpu0, cpuErr := t.metric(context.Background(), "process_cpu_seconds_total")
	own0 := ownCPU()
	wsURL := strings.Replace(t.url, "http", "ws", 1) + "/v1/ws"
	sem := make(chan struct{}, *conc)
	start := time.Now()
	period := time.Duration(float64(time.Second) / *rate)
	late := 0 // upgrades not started on time because -conc were in flight
loop:
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * period)
		select {
		case <-ctx.Done():
			break loop
		case <-time.After(time.Until(due)):
		}
		select {
		case sem <- struct{}{}:
		default:
			late++
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var tok string
			var err error
			switch {
			case len(held) > 0:
				tok = held[k%len(held)]
			case k < len(minted):
				tok = minted[k]
			default:
				tok, err = sign(k)
			}
			if err != nil {
				failed.Add(1)
				return
			}
			// Each upgrade has its own deadline: stopping the run must not count the ones in
			// flight as failures.
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: clients[k%len(clients)],
				Subprotocols: []string{frames.SubprotocolJSON}, HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
			if err == nil {
				_, _, err = c.Read(dctx)
				_ = c.CloseNow()
			}
			if err != nil {
				// Over the gateway's handshake bound an upgrade is accepted and closed with 1013
				// (a 503 from older gateways: coder/websocket names the status it got instead of 101).
				if websocket.CloseStatus(err) == frames.CloseTryAgainLater || strings.Contains(err.Error(), "got 503") {
					busy.Add(1)
				}
				if failed.Add(1) == 1 {
					mu.Lock()
					firstErr = err.Error()
					mu.Unlock()
				}
				return
			}
			ok.Add(1)
			mu.Lock()
			lat = append(lat, time.Since(due))
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	kind := fmt.Sprintf("a new visitor each, %d tokens signed ahead, %d on the schedule", len(minted), max(0, ok.Load()+failed.Load()-int64(len(minted))))
	if len(held) > 0 {
		kind = fmt.Sprintf("%d visitors reconnecting with their tokens", len(held))
	}
	fmt.Fprintf(out, "upgrades: %.0f/s offered for %s (%s): ok %d (%.0f/s), failed %d (%d of them refused: over the gateway's handshake bound), started late %d; dial -> welcome: %s\n",
		*rate, elapsed.Round(time.Second), kind, ok.Load(), float64(ok.Load())/elapsed.Seconds(), failed.Load(), busy.Load(), late, percentiles(lat))
	// This generator's own CPU over the run (tokens signed ahead excluded): on one machine it
	// comes out of the cores the gateway and the chat run on.
	own := ownCPU() - own0
	fmt.Fprintf(out, "generator CPU while upgrading: %.2f s (%.0f µs per attempt)\n", own.Seconds(),
		float64(own.Microseconds())/float64(max(1, ok.Load()+failed.Load())))
	if firstErr != "" {
		fmt.Fprintf(out, "first failed upgrade: %s\n", firstErr)
	}
	if cpu1, err := t.metric(context.Background(), "process_cpu_seconds_total"); err == nil && cpuErr == nil && t.ops != "" {
		used := cpu1 - cpu0
		// Per attempt as well: a refused upgrade costs the gateway its accept, request and close.
		fmt.Fprintf(out, "gateway CPU while upgrading: %.2f s in %.1f s (%.2f cores; %.0f µs per upgrade done, %.0f µs per attempt, other load included)\n",
			used, elapsed.Seconds(), used/elapsed.Seconds(), used/float64(max(1, ok.Load()))*1e6,
			used/float64(max(1, ok.Load()+failed.Load()))*1e6)
	}
	return nil
}

// ownCPU is this process's CPU time so far (user and system).
func ownCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mintTokens signs tokens 0..n-1 with sign on every processor, before the run.
func mintTokens(n int, sign func(int) (string, error)) ([]string, error) {
	out := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if out[i], errs[w] = sign(i); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mint tokens: %w", err)
	}
	return out, nil
}

// writeEdDSAKeys writes a gateway key set of one EdDSA key (bench.sh KEYS=eddsa), to compare
// the gateway's verification cost with the default ES256 key of `loadgen keys`.
func writeEdDSAKeys(out io.Writer) error {
	b, err := token.GenerateKeysFor("EdDSA", nil)
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}
