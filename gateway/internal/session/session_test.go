package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/metrics"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// stuckTransport never finishes a write: a client that stopped reading.
type stuckTransport struct {
	release chan struct{}
	aborted atomic.Bool
	closed  atomic.Int32
	mu      sync.Mutex
	written [][]byte
}

func (t *stuckTransport) Name() string { return "test" }
func (t *stuckTransport) Binary() bool { return false }
func (t *stuckTransport) Write(ctx context.Context, b []byte) error {
	select {
	case <-t.release:
		t.mu.Lock()
		t.written = append(t.written, b)
		t.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (t *stuckTransport) Close(code int, _ string)   { t.closed.Store(int32(code)) }
func (t *stuckTransport) Abort()                     { t.aborted.Store(true) }
func (t *stuckTransport) Ping(context.Context) error { return errors.New("no") }
func (t *stuckTransport) count() int                 { t.mu.Lock(); defer t.mu.Unlock(); return len(t.written) }

func testManager(t testing.TB) *Manager {
	cfg := DefaultConfig()
	cfg.QueueFrames = 8
	cfg.fill()
	m := &Manager{cfg: cfg, log: zaptest.NewLogger(t), metrics: metrics.New(prometheus.NewRegistry()),
		sessions: map[string]*Session{}, users: map[string]*userState{}}
	m.bg, m.stopBg = context.WithCancel(context.Background())
	t.Cleanup(m.stopGoroutines)
	return m
}

func testSession(m *Manager, tr Transport) *Session {
	c := &token.Claims{Subject: "u1", Tenant: "acme", Role: frames.RoleCustomer}
	s := newSession(m, c, &fd.Tenant{Id: "acme"}, TenantLimits(&fd.Tenant{}), tr)
	s.started = true
	return s
}

// TestSlowClientDisconnected: a client whose queue fills is dropped; the others are not slowed.
func TestSlowClientDisconnected(t *testing.T) {
	t.Parallel()
	m := testManager(t)
	tr := &stuckTransport{release: make(chan struct{})}
	s := testSession(m, tr)
	// The writer takes what is queued when it starts (at most QueueFrames) and then hangs on
	// the write, so twice the limit overflows the queue however the goroutines interleave.
	for range 2*m.cfg.QueueFrames + 2 {
		s.send(&fd.ServerFrame{Type: frames.TypePong})
	}
	testkit.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if !tr.aborted.Load() {
			return errors.New("slow client not disconnected")
		}
		return nil
	})
	// Nothing more is queued after the drop.
	s.send(&fd.ServerFrame{Type: frames.TypePong})
	if n := s.QueueLen(); n != 0 {
		t.Fatalf("queue = %d after drop", n)
	}
}

// TestCloseAfterQueued: a policy close is sent after the frames queued before it.
func TestCloseAfterQueued(t *testing.T) {
	t.Parallel()
	m := testManager(t)
	tr := &stuckTransport{release: make(chan struct{})}
	s := testSession(m, tr)
	s.send(&fd.ServerFrame{Type: frames.TypeError, Code: frames.CodeRateLimited})
	s.Close(frames.ClosePolicyViolation, "abuse")
	s.send(&fd.ServerFrame{Type: frames.TypePong}) // after the close: dropped
	if tr.closed.Load() != 0 {
		t.Fatal("closed before the queued frame was written")
	}
	close(tr.release)
	testkit.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if tr.closed.Load() == 0 {
			return errors.New("not closed")
		}
		return nil
	})
	if tr.closed.Load() != frames.ClosePolicyViolation || tr.count() != 1 {
		t.Fatalf("close = %d after %d frames", tr.closed.Load(), tr.count())
	}
}

// FuzzDecodeFrame: the decoder never panics, and a frame it accepts has a known type and
// survives a round trip through the other encoding.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"x1","conv":"c_1","kind":"text","text":"hi"}`,
		`{"type":"sync","conv":"c_1","after":"12"}`,
		`{"type":"history","conv":"c_1","before":10,"limit":50}`,
		`{"type":"read","conv":"c_1","seq":3}`,
		`{"type":"transfer","conv":"c_1","to_queue":"billing"}`,
		`{"type":"status","status":"away"}`,
		`{"type":"ping"}`, `{"type":"send","id":"x","kind":"image","attachment":{"id":"att_1"}}`,
		`{"type":`, `[]`, `{"type":"send","text":"\u0000\ud800"}`,
	} {
		f.Add(false, []byte(s))
	}
	b, _ := proto.Marshal(&fd.ClientFrame{Type: "send", Id: "x", Text: "hi"})
	f.Add(true, b)
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		fr, err := DecodeFrame(binary, data)
		if err != nil {
			return
		}
		if fr.GetType() == "" {
			t.Fatalf("accepted a frame without type: %q", data)
		}
		again, err := DecodeFrame(true, mustMarshal(t, fr))
		if err != nil || !proto.Equal(fr, again) {
			t.Fatalf("round trip of %q: %v", data, err)
		}
	})
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQueueBytesCountWhatIsInFlight: the byte bound holds for everything a connection holds,
// the batch its writer is stuck on included; it used to count only what waited behind it, so a
// stuck connection could hold twice QueueBytes.
func TestQueueBytesCountWhatIsInFlight(t *testing.T) {
	t.Parallel()
	m := testManager(t)
	tr := &stuckTransport{release: make(chan struct{})}
	s := testSession(m, tr)
	big := &fd.ServerFrame{Type: frames.TypeMessage, Text: strings.Repeat("a", m.cfg.QueueBytes*6/10)}
	s.send(big)
	// The writer takes it and hangs on the write.
	testkit.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if n := s.QueueLen(); n != 0 {
			return fmt.Errorf("%d frames queued", n)
		}
		return nil
	})
	s.send(big)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		t.Fatal("a second frame of 60% of QueueBytes was queued behind the first, in flight")
	}
}
