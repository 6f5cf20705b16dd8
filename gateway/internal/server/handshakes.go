package server

// A bound on the session opens in progress. An upgrade's expensive part (the token's signature
// check, the handshake, the session's subscriptions and welcome) is CPU the chat's deliveries
// need too. Without a bound, a burst of upgrades (a reconnect storm after a deploy, or 1,000
// new visitors a second on 2 cores) puts hundreds of runnable handshake goroutines in the
// scheduler's run queues, and a delivery woken behind them waits for all of them. With it, the
// handshakes past the bound wait parked, in arrival order, where they cost no CPU and do not
// stand in front of anyone; one that waits too long is refused (enterHandshake), which a
// client's reconnect backoff already handles, instead of queueing without end.

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// minHandshakes is the default bound's floor, and the bound is GOMAXPROCS above it: one handshake
// per processor, so that the handshakes never outnumber the processors in the run queues and the
// open sessions' deliveries keep a processor when there are two, and at least two, so that one
// handshake waiting on I/O (NATS, a tenant's key set) does not stop the others. Measured at 1,000
// new visitors a second beside the chat on 2 processors (BENCHMARKS.md, "A bound on the
// handshakes in progress" and "Session 8"): twice the processors cut the chat's p99 beside them
// to a sixth, and the processors alone cut it by another 5-25% in four pairs of four, with every
// upgrade done. The price: fewer handshakes at a time share fewer NATS writes (more CPU per
// upgrade).
const minHandshakes = 2

// handshakeRetryAfter is the Retry-After of a refused handshake, in seconds: about what the
// ones ahead of it need to drain at the rates a gateway keeps (thousands a second).
const handshakeRetryAfter = 1

// handshakeGate holds the slots. A nil gate admits everyone (Config.MaxHandshakes < 0).
type handshakeGate struct {
	slots chan struct{}
	wait  time.Duration
}

// newHandshakeGate returns a gate of n slots (0: GOMAXPROCS, at least minHandshakes; negative:
// no gate) whose waiters give up after wait.
func newHandshakeGate(n int, wait time.Duration) *handshakeGate {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = max(minHandshakes, runtime.GOMAXPROCS(0))
	}
	return &handshakeGate{slots: make(chan struct{}, n), wait: wait}
}

// enter takes a slot, waiting at most the gate's wait for one (less if ctx ends first), and
// reports whether it got one; the caller then calls leave once. Waiters are served in arrival
// order: blocked senders on a channel queue first in, first out.
func (g *handshakeGate) enter(ctx context.Context) bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	// Only a handshake that has to wait pays for a timer.
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// leave gives the slot back.
func (g *handshakeGate) leave() {
	if g != nil {
		<-g.slots
	}
}

// busy reports how many slots are taken (tests).
func (g *handshakeGate) busy() int {
	if g == nil {
		return 0
	}
	return len(g.slots)
}

// enterHandshake takes a handshake slot for r, or answers the refusal itself and returns false.
// An SSE stream is refused with 503 and Retry-After. A WebSocket upgrade is accepted and closed
// at once with 1013 (try again later): a browser cannot read the status of a refused upgrade,
// so a 503 looks to it like a network that blocks WebSocket, and the web client moves to SSE
// for minutes after two of those; an upgrade that opened and closed with 1013 is retried over
// WebSocket after the client's backoff. The accept skips the origin check (the tenant is not
// known before the token is read): nothing is read or written on the socket but the close.
func (s *Server) enterHandshake(w http.ResponseWriter, r *http.Request, ws bool) bool {
	if s.handshakes.enter(r.Context()) {
		return true
	}
	s.metrics.AuthFailures.WithLabelValues("handshakes_busy").Inc()
	if ws {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:       []string{frames.SubprotocolJSON, frames.SubprotocolProto},
			InsecureSkipVerify: true,
		})
		if err != nil {
			return false // Accept wrote the response
		}
		_ = c.Close(websocket.StatusCode(frames.CloseTryAgainLater), "too many connections opening, retry")
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(handshakeRetryAfter))
	http.Error(w, "too many connections opening, retry", http.StatusServiceUnavailable)
	return false
}
