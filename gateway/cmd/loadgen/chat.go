package main

// The chat mode: customers and agents chatting at a constant rate, optionally beside
// authenticated upgrades (-upgrades), timed from each message's scheduled send.

import (
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

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
	sending  atomic.Bool  // the measured window began
	requeued sync.Map     // conversations a customer saw queued again while sending

	refused  atomic.Int64    // sends answered rate_limited or overloaded
	errored  atomic.Int64    // sends answered with another error
	answer   []time.Duration // send -> ack or refusal, under mu
	late     atomic.Int64    // sends answered after a second or more
	lag      []time.Duration // how late the senders woke for a scheduled send, under mu
	reply    float64         // share of customer messages an agent answers
	replies  sync.Map        // reply client id -> time the agent wrote it
	nreplies atomic.Int64    // replies written
	replyLat []time.Duration // agent reply -> customer delivery, under mu
	rdrop    atomic.Int64    // replies not written: the agent's writer was behind
	refusals sync.Map        // error code -> *atomic.Int64
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
	sources := fs.Int("sources", 1, "source addresses the sessions are spread over (127.0.0.2 onwards; 1: the default address): a gateway takes at most max_connections_per_address (10,000) from one")
	fs.Float64Var(&r.reply, "reply", 0, "share of the customer messages each agent answers (0.5: 500 replies/s for 1,000 msg/s)")
	watch := fs.String("watch", "frontdesk,gateway,dispatcher,persister,aibridge,postgres,loadgen", "processes whose CPU and RSS are reported, comma-separated: command names, or process ids (with their descendants, e.g. a Postgres postmaster); empty: none")
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
		c, _, err := r.t.dial(ctx, fmt.Sprintf("ag%s_%d", run, i), frames.RoleAgent, source(i, *sources))
		if err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		defer c.CloseNow()
		agentConns[i] = c
		replies := make(chan *fd.ClientFrame, 4096)
		defer close(replies)
		go r.readAgent(c, replies)
		go func() {
			for f := range replies {
				r.replies.Store(f.GetId(), time.Now())
				if write(ctx, c, f) == nil {
					r.nreplies.Add(1)
				}
			}
		}()
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
			c, _, err := r.t.dial(ctx, fmt.Sprintf("cu%s_%d", run, i), frames.RoleCustomer, source(i+*agents, *sources))
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
	var procs *procWatch
	if *watch != "" {
		// The generator itself is always reported: its CPU is taken from the same cores.
		procs = watchProcs(ctx, append(strings.Split(*watch, ","), strconv.Itoa(os.Getpid())))
	}

	// Constant-rate senders: message k of customer i is due at start + offset_i + k*period,
	// whatever happened to the previous ones.
	r.sending.Store(true)
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
				late := time.Since(due)
				id := fmt.Sprintf("%d.%d", i, k)
				r.sent.Store(id, due)
				r.nsent.Add(1)
				if err := write(ctx, cu.c, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: cu.conv, Kind: frames.KindText,
					Text: "load message " + id}); err != nil {
					r.failed.Add(1)
				}
				r.mu.Lock()
				r.lag = append(r.lag, late)
				r.mu.Unlock()
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
		if int64(n) >= r.acked.Load() && r.acked.Load()+r.refused.Load()+r.errored.Load() >= r.nsent.Load()-r.failed.Load() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss, _ := r.t.metric(ctx, "process_resident_memory_bytes")
	rx, tx := r.t.rx.Load()-rx0, r.t.tx.Load()-tx0
	r.mu.Lock()
	lat, echo := slices.Clone(r.lat), slices.Clone(r.echo)
	answer, lag, replyLat := slices.Clone(r.answer), slices.Clone(r.lag), slices.Clone(r.replyLat)
	r.mu.Unlock()
	lost := r.acked.Load() - int64(len(lat))
	unanswered := r.nsent.Load() - r.failed.Load() - r.acked.Load() - r.refused.Load() - r.errored.Load()
	fmt.Fprintf(out, "chat: %d customers x %.2g msg/s for %s: sent %d, acked %d, refused %d (%s), other errors %d, unanswered %d, delivered to agents %d, duplicates %d, send errors %d, lost %d\n",
		len(custs)-nerr, *rate, *duration, r.nsent.Load(), r.acked.Load(), r.refused.Load(), r.refusalCodes(), r.errored.Load(),
		max(unanswered, 0), len(lat), r.dups.Load(), r.failed.Load(), max(lost, 0))
	requeued := 0
	r.requeued.Range(func(any, any) bool { requeued++; return true })
	if requeued > 0 {
		// Live delivery follows the agent who owns the conversation; what is sent while it waits
		// for another agent reaches the next one by sync, which this generator does not do.
		fmt.Fprintf(out, "conversations requeued by the dispatcher while sending: %d (messages sent meanwhile count as lost here)\n", requeued)
	}
	fmt.Fprintf(out, "send -> agent delivery:   %s\n", percentiles(lat))
	fmt.Fprintf(out, "send -> own echo:         %s\n", percentiles(echo))
	fmt.Fprintf(out, "send -> ack or refusal:   %s; %d answered after 1 s or more\n", percentiles(answer), r.late.Load())
	if r.reply > 0 {
		fmt.Fprintf(out, "agent replies: %d written, %d skipped (agent writer behind); reply -> customer delivery: %s\n",
			r.nreplies.Load(), r.rdrop.Load(), percentiles(replyLat))
	}
	fmt.Fprintf(out, "generator lag (scheduled send -> written): %s\n", percentiles(lag))
	if procs != nil {
		procs.Finish(out)
	}
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

// source is the source address of session i spread over n addresses (nil: the default).
func source(i, n int) net.IP {
	if n <= 1 {
		return nil
	}
	return net.IPv4(127, 0, 0, byte(2+i%n))
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

// answered records the answer (ack or error) to a customer's send.
func (r *chatRun) answered(now time.Time, id string) {
	due, ok := r.sent.Load(id)
	if !ok {
		return
	}
	d := now.Sub(due.(time.Time))
	if d >= time.Second {
		r.late.Add(1)
	}
	r.mu.Lock()
	r.answer = append(r.answer, d)
	r.mu.Unlock()
}

func (r *chatRun) refusalCodes() string {
	var parts []string
	r.refusals.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// readAgent counts an agent's assignments and deliveries and answers a share of the customer
// messages (r.reply) through replies, which its own writer drains so reading never waits.
func (r *chatRun) readAgent(c *websocket.Conn, replies chan<- *fd.ClientFrame) {
	credit := 0.0
	_ = readFrames(context.Background(), c, func(now time.Time, f *fd.ServerFrame) bool {
		switch f.GetType() {
		case frames.TypeAssigned:
			r.assigned.Add(1)
		case frames.TypeMessage:
			due, ok := r.sent.Load(f.GetClientId())
			if !ok || f.GetFrom().GetRole() != frames.RoleCustomer {
				return true
			}
			if _, dup := r.seen.LoadOrStore(f.GetClientId(), struct{}{}); dup {
				r.dups.Add(1)
				return true
			}
			r.mu.Lock()
			r.lat = append(r.lat, now.Sub(due.(time.Time)))
			r.mu.Unlock()
			if credit += r.reply; credit >= 1 {
				credit--
				select {
				case replies <- &fd.ClientFrame{Type: frames.TypeSend, Id: "r" + f.GetClientId(), Conv: f.GetConv(),
					Kind: frames.KindText, Text: "reply to " + f.GetClientId()}:
				default:
					r.rdrop.Add(1)
				}
			}
		}
		return true
	})
}

func (r *chatRun) readCustomer(c *websocket.Conn, acks chan string) {
	first := true
	_ = readFrames(context.Background(), c, func(now time.Time, f *fd.ServerFrame) bool {
		switch f.GetType() {
		case frames.TypeAck:
			if first {
				first = false
				acks <- f.GetConv()
				return true
			}
			r.acked.Add(1)
			r.answered(now, f.GetId())
		case frames.TypeError:
			if _, ok := r.sent.Load(f.GetId()); !ok {
				return true
			}
			if f.GetCode() == frames.CodeRateLimited || f.GetCode() == frames.CodeOverloaded {
				r.refused.Add(1)
			} else {
				r.errored.Add(1)
			}
			n, _ := r.refusals.LoadOrStore(f.GetCode(), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			r.answered(now, f.GetId())
		case frames.TypeState:
			if f.GetState() == frames.StateClosed {
				r.closed.Add(1)
			}
			if f.GetState() == frames.StateQueued && r.sending.Load() {
				r.requeued.Store(f.GetConv(), true)
			}
		case frames.TypeMessage:
			if f.GetFrom().GetRole() == frames.RoleAgent {
				if t, ok := r.replies.Load(f.GetClientId()); ok {
					r.mu.Lock()
					r.replyLat = append(r.replyLat, now.Sub(t.(time.Time)))
					r.mu.Unlock()
				}
				return true
			}
			if due, ok := r.sent.Load(f.GetClientId()); ok {
				r.mu.Lock()
				r.echo = append(r.echo, now.Sub(due.(time.Time)))
				r.mu.Unlock()
			}
		}
		return true
	})
}
