package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// This file is a resilient client population for runs that break things on purpose: users
// reconnect with backoff when their socket drops, catch up with sync, and retry unacked
// sends with the same id, as the widget and the console do. Every ack is recorded so the
// record can be checked afterwards.

// ledger records what the clients saw.
type ledger struct {
	mu       sync.Mutex
	acked    map[string]sent            // by sender/client id
	agentsOf map[string]map[string]bool // conv -> agents who got it
	assigned map[string]bool            // convs whose customer saw them assigned
	closed   map[string]bool            // convs whose customer saw them closed
	customer map[string]string          // conv -> customer
	retries  atomic.Int64
	reconns  atomic.Int64
}

func newLedger() *ledger {
	return &ledger{acked: map[string]sent{}, agentsOf: map[string]map[string]bool{}, assigned: map[string]bool{},
		closed: map[string]bool{}, customer: map[string]string{}}
}

func (l *ledger) ack(s sent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := s.sender + "/" + s.clientID
	if prev, ok := l.acked[k]; ok && (prev.seq != s.seq || prev.conv != s.conv) {
		return fmt.Errorf("message %s acked twice with different seqs: %d in %s, then %d in %s", k, prev.seq, prev.conv, s.seq, s.conv)
	}
	l.acked[k] = s
	return nil
}

func (l *ledger) agentGot(conv, agent string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.agentsOf[conv] == nil {
		l.agentsOf[conv] = map[string]bool{}
	}
	l.agentsOf[conv][agent] = true
}

// user is one resilient client identity (customer or agent).
type user struct {
	sys   *System
	tok   string
	id    string
	led   *ledger
	c     *wsclient.Client
	last  map[string]int64 // conv -> highest seq seen
	onNew func(*wsclient.Client)
}

// conn returns a live connection, reconnecting with jittered backoff (and syncing every
// known conversation) when the current one is gone.
func (u *user) conn(ctx context.Context) (*wsclient.Client, error) {
	if u.c != nil && u.c.Err() == nil {
		return u.c, nil
	}
	if u.c != nil {
		u.c.Close()
		u.led.reconns.Add(1)
	}
	backoff := 100 * time.Millisecond
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := wsclient.Dial(dctx, u.sys.Base, u.tok, nil)
		cancel()
		if err == nil {
			u.c = c
			for conv, after := range u.last {
				a := after
				_ = c.Send(ctx, &fd.ClientFrame{Type: frames.TypeSync, Id: "sync-" + conv, Conv: conv, After: &a})
			}
			if u.onNew != nil {
				u.onNew(c)
			}
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(backoff/2 + rand.N(backoff)) // a client's reconnect backoff, as the widget's: load shape, not a wait
		backoff = min(2*backoff, 2*time.Second)
	}
}

// send sends a text message until it is acked, retrying with the same id after drops,
// timeouts and transient error frames.
func (u *user) send(ctx context.Context, conv, id, text string) (sent, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			u.led.retries.Add(1)
			time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond) // a client's retry pause: load shape
		}
		c, err := u.conn(ctx)
		if err != nil {
			return sent{}, err
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ack, err := c.Do(sctx, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: conv, Kind: frames.KindText, Text: text})
		cancel()
		if err == nil {
			s := sent{conv: ack.GetConv(), sender: u.id, clientID: id, text: text, seq: ack.GetSeq()}
			if s.seq <= 0 || s.conv == "" || (conv != "" && s.conv != conv) {
				return s, fmt.Errorf("bad ack %s for %s in %s", describe(ack), id, conv)
			}
			u.see(s.conv, s.seq)
			return s, u.led.ack(s)
		}
		var fe *wsclient.FrameError
		if errors.As(err, &fe) && fe.Code != frames.CodeInternal && fe.Code != frames.CodeRateLimited {
			return sent{}, fmt.Errorf("send %s: %w", id, err)
		}
		if ctx.Err() != nil {
			return sent{}, ctx.Err()
		}
		if c.Err() == nil && !errors.As(err, &fe) {
			// A timeout on a live socket: the gateway may be half-way through a NATS outage.
			// Start over on a fresh connection.
			c.Abort()
		}
	}
}

func (u *user) see(conv string, seq int64) {
	if seq > u.last[conv] {
		u.last[conv] = seq
	}
}

// next waits up to d for a frame of interest, reconnecting when the socket dropped. It
// returns nil on timeout.
func (u *user) next(ctx context.Context, d time.Duration, match func(*fd.ServerFrame) bool) (*fd.ServerFrame, error) {
	c, err := u.conn(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	f, err := c.Wait(wctx, match)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, nil
	}
	if f.GetType() == frames.TypeMessage && !f.GetPartial() {
		u.see(f.GetConv(), f.GetSeq())
	}
	return f, nil
}

// trafficOptions shape a run.
type trafficOptions struct {
	tenant        string
	conversations int
	agents        int
	maxChats      int
	messages      int           // customer messages after assignment
	interval      time.Duration // between a customer's messages
	arrival       time.Duration // between two customers' arrivals
	deadline      time.Duration
}

// runTraffic runs the agents and customers of o until every customer closed its
// conversation or the deadline passed, and returns the ledger.
func runTraffic(t *testing.T, sys *System, o trafficOptions) *ledger {
	led := newLedger()
	ctx, cancel := context.WithTimeout(context.Background(), o.deadline)
	defer cancel()
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()

	var agents sync.WaitGroup
	for i := range o.agents {
		id := fmt.Sprintf("agent%02d", i)
		tok := sys.Token(t, token.Claims{Subject: id, Tenant: o.tenant, Role: frames.RoleAgent, Name: id, MaxChats: o.maxChats})
		agents.Go(func() { runAgent(agentCtx, sys, led, id, tok) })
	}

	errs := make(chan error, o.conversations)
	var customers sync.WaitGroup
	for i := range o.conversations {
		if i > 0 {
			time.Sleep(o.arrival) // customers arrive spread over time: load shape, not a wait
		}
		customers.Go(func() {
			if err := runCustomer(ctx, sys, led, o, i); err != nil {
				errs <- fmt.Errorf("customer %d: %w", i, err)
			}
		})
	}
	customers.Wait()
	stopAgents()
	agents.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 10 {
		t.Errorf("... and %d more customer failures", n-10)
	}
	return led
}

func runCustomer(ctx context.Context, sys *System, led *ledger, o trafficOptions, i int) error {
	var tok, id string
	for {
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		tok, id, err = wsclient.Visitor(vctx, sys.Base, o.tenant, fmt.Sprintf("Customer %d", i))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("visitor token: %w", err)
		}
		time.Sleep(200 * time.Millisecond) // a client's retry pause: load shape
	}
	u := &user{sys: sys, tok: tok, id: id, led: led, last: map[string]int64{}}
	defer func() {
		if u.c != nil {
			u.c.Close()
		}
	}()

	q, err := u.send(ctx, "", "q", "How long does shipping take?")
	if err != nil {
		return err
	}
	conv := q.conv
	led.mu.Lock()
	led.customer[conv] = id
	led.mu.Unlock()

	// Hand off and wait to be assigned, asking again if the state says the request was lost.
	state := frames.StateBot
	handoff := func() error {
		c, err := u.conn(ctx)
		if err != nil {
			return err
		}
		return c.Send(ctx, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "handoff", Conv: conv})
	}
	u.onNew = func(c *wsclient.Client) {
		for _, s := range c.Welcome.GetConversations() {
			if s.GetConv() == conv && s.GetState() != "" {
				state = s.GetState()
			}
		}
	}
	if err := handoff(); err != nil {
		return err
	}
	asked := time.Now()
	for state != frames.StateAssigned {
		f, err := u.next(ctx, time.Second, func(f *fd.ServerFrame) bool {
			return f.GetConv() == conv && (f.GetType() == frames.TypeQueued || f.GetType() == frames.TypeAssigned || f.GetType() == frames.TypeState)
		})
		if err != nil {
			return fmt.Errorf("waiting for an agent in state %s: %w", state, err)
		}
		switch {
		case f == nil:
		case f.GetType() == frames.TypeQueued:
			state = frames.StateQueued
		case f.GetType() == frames.TypeAssigned:
			state = frames.StateAssigned
		case f.GetType() == frames.TypeState:
			state = f.GetState()
		}
		if state == frames.StateBot && time.Since(asked) > 5*time.Second {
			if err := handoff(); err != nil {
				return err
			}
			asked = time.Now()
		}
	}
	led.mu.Lock()
	led.assigned[conv] = true
	led.mu.Unlock()

	for m := range o.messages {
		if _, err := u.send(ctx, conv, fmt.Sprintf("m%d", m), fmt.Sprintf("customer %d message %d", i, m)); err != nil {
			return err
		}
		time.Sleep(o.interval) // a customer typing: load shape, not a wait
	}

	// Close and wait for the closed state (asking again after a drop).
	closed := false
	u.onNew = func(c *wsclient.Client) {
		for _, s := range c.Welcome.GetConversations() {
			if s.GetConv() == conv && s.GetState() == frames.StateClosed {
				closed = true
			}
		}
		_ = c.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "close", Conv: conv})
	}
	c, err := u.conn(ctx)
	if err != nil {
		return err
	}
	if err := c.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "close", Conv: conv}); err != nil {
		c.Abort()
	}
	for start := time.Now(); !closed; {
		f, err := u.next(ctx, time.Second, isState(conv, frames.StateClosed))
		if err != nil {
			return fmt.Errorf("waiting for close: %w", err)
		}
		if f != nil {
			closed = true
		}
		if !closed && time.Since(start) > 10*time.Second {
			// No closed state yet: ask again (a close lost with a killed gateway).
			if c, err := u.conn(ctx); err == nil {
				_ = c.Send(ctx, &fd.ClientFrame{Type: frames.TypeClose, Id: "close", Conv: conv})
			}
			start = time.Now()
		}
	}
	led.mu.Lock()
	led.closed[conv] = true
	led.mu.Unlock()
	return nil
}

// runAgent keeps an agent available, greets every conversation it is assigned and answers
// every customer message once, until ctx ends.
func runAgent(ctx context.Context, sys *System, led *ledger, id, tok string) {
	u := &user{sys: sys, tok: tok, id: id, led: led, last: map[string]int64{}}
	mine := map[string]bool{}
	answered := map[string]bool{}
	var todo []string // convs to greet
	u.onNew = func(c *wsclient.Client) {
		_ = c.Send(ctx, &fd.ClientFrame{Type: frames.TypeStatus, Id: "status", Status: frames.StatusAvailable})
		for _, s := range c.Welcome.GetConversations() {
			if s.GetState() == frames.StateAssigned && !mine[s.GetConv()] {
				mine[s.GetConv()] = true
				led.agentGot(s.GetConv(), id)
				todo = append(todo, s.GetConv())
			}
		}
	}
	defer func() {
		if u.c != nil {
			u.c.Close()
		}
	}()
	for ctx.Err() == nil {
		for len(todo) > 0 {
			conv := todo[0]
			todo = todo[1:]
			if _, err := u.send(ctx, conv, "greet-"+conv, "Hello, "+id+" here."); err != nil && ctx.Err() == nil {
				// The conversation may have closed meanwhile: that refusal is fine.
				continue
			}
		}
		f, err := u.next(ctx, 500*time.Millisecond, func(f *fd.ServerFrame) bool {
			switch f.GetType() {
			case frames.TypeAssigned, frames.TypeState:
				return true
			case frames.TypeMessage:
				return !f.GetPartial() && f.GetFrom().GetRole() == frames.RoleCustomer
			}
			return false
		})
		if err != nil || f == nil {
			if u.c == nil {
				continue
			}
			u.c.Drop(func(f *fd.ServerFrame) bool {
				return f.GetType() != frames.TypeAssigned && f.GetType() != frames.TypeMessage
			})
			continue
		}
		switch f.GetType() {
		case frames.TypeAssigned:
			if f.GetAgent().GetId() == id || f.GetAgent().GetId() == "" {
				if !mine[f.GetConv()] {
					mine[f.GetConv()] = true
					led.agentGot(f.GetConv(), id)
					todo = append(todo, f.GetConv())
				}
			}
		case frames.TypeState:
			if f.GetState() == frames.StateClosed {
				delete(mine, f.GetConv())
			}
		case frames.TypeMessage:
			key := f.GetId()
			if mine[f.GetConv()] && !answered[key] {
				answered[key] = true
				_, _ = u.send(ctx, f.GetConv(), "re-"+key, "re: "+f.GetText())
			}
		}
	}
}

// checkRecord asserts what the fault tests promise: every acked message is in Postgres
// exactly once at its acked seq; no conversation was assigned twice; every customer was
// assigned and closed.
func checkRecord(t *testing.T, sys *System, led *ledger, tenant string, conversations int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	led.mu.Lock()
	defer led.mu.Unlock()
	t.Logf("%d acked messages, %d send retries, %d reconnects, %d conversations assigned, %d closed",
		len(led.acked), led.retries.Load(), led.reconns.Load(), len(led.assigned), len(led.closed))

	if len(led.assigned) != conversations || len(led.closed) != conversations {
		t.Errorf("%d of %d customers assigned, %d closed", len(led.assigned), conversations, len(led.closed))
	}
	for conv, agents := range led.agentsOf {
		if len(agents) > 1 {
			t.Errorf("conversation %s went to %d agents: %v", conv, len(agents), agents)
		}
	}

	// The persister may still be catching up after its restart: wait for every acked message
	// (a message stored twice or at another seq fails the test at once instead).
	var missing []string
	testkit.CheckFor(t, 2*time.Minute, 500*time.Millisecond, func() error {
		missing = missing[:0]
		stored := map[string][]int64{}
		rows, err := sys.DB.Query(ctx, `SELECT sender_id, client_id, seq FROM messages WHERE tenant = $1`, tenant)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var sender, clientID string
			var seq int64
			if err := rows.Scan(&sender, &clientID, &seq); err != nil {
				t.Fatal(err)
			}
			k := sender + "/" + clientID
			stored[k] = append(stored[k], seq)
		}
		rows.Close()
		for k, s := range led.acked {
			seqs := stored[k]
			switch {
			case len(seqs) == 0:
				missing = append(missing, k)
			case len(seqs) > 1:
				t.Errorf("message %s stored %d times: seqs %v", k, len(seqs), seqs)
			case seqs[0] != s.seq:
				t.Errorf("message %s stored at seq %d, acked with %d", k, seqs[0], s.seq)
			}
		}
		if len(missing) == 0 || t.Failed() {
			return nil
		}
		return fmt.Errorf("%d acked messages not in Postgres, e.g. %v", len(missing), missing[:min(10, len(missing))])
	})

	rows, err := sys.DB.Query(ctx, `SELECT conv, count(*) FROM events WHERE tenant = $1 AND type = 'assigned'
		GROUP BY conv HAVING count(*) > 1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var conv string
		var n int
		if err := rows.Scan(&conv, &n); err != nil {
			t.Fatal(err)
		}
		t.Errorf("conversation %s has %d assigned events", conv, n)
	}
}
