package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// The SSE fallback: GET /v1/sse opens a session whose server frames arrive as Server-Sent
// Events ("data: <frame JSON>"); client frames are POSTed to /v1/sse. A POST naming a session
// this gateway holds (?session=s_...) is handled by that session and answered on its stream, in
// order with everything else; otherwise (load balancers need no stickiness) the POST is handled
// on its own and answered in the response body, as a JSON array of frames. Same frames, same
// auth, same recovery (sync) as the WebSocket.

func (s *Server) handleSSE(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	if !s.enterHandshake(w, r, false) {
		return
	}
	// The slot is held until the session has started or failed to; the stream outlives it.
	opening := true
	leave := func() {
		if opening {
			opening = false
			s.handshakes.leave()
		}
	}
	defer leave()
	c, t, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// The stream outlives the server's request timeouts: no read deadline (the session's dead
	// timeout watches the client), and a deadline per write instead of one for the response.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	tr := &sseTransport{w: w, fl: fl, rc: rc, done: make(chan struct{}),
		deltas: r.URL.Query().Get(frames.QueryPartials) == frames.PartialsDelta}
	sess, err := s.sessions.Open(c, t, tr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	sess.SetPage(r.URL.Query().Get(frames.QueryPage))
	defer sess.Finish()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx := context.WithoutCancel(r.Context())
	if err := sess.Start(ctx); err != nil {
		s.log.Warn("sse session start", zap.Error(err))
		tr.Close(1011, "internal error")
	}
	leave()
	select {
	case <-r.Context().Done():
	case <-tr.done:
	}
	tr.finished.Store(true)
	tr.mu.Lock()
	tr.ended = true
	tr.mu.Unlock()
}

// sseTransport writes frames as events; the session's writer is its only concurrent user,
// besides Close and Abort. Every write has a deadline, so a client that stops reading is cut
// off like a WebSocket one, and Abort expires a write in progress at once.
type sseTransport struct {
	deltas  bool
	mu      sync.Mutex
	w       http.ResponseWriter
	fl      http.Flusher
	rc      *http.ResponseController
	ended   bool
	once    sync.Once
	done    chan struct{}
	aborted atomic.Bool
	// finished is set as the handler returns: the connection may then serve another
	// request, whose deadlines are no longer ours to set.
	finished atomic.Bool
}

// closeWriteTimeout bounds the close event's write.
const closeWriteTimeout = time.Second

func (t *sseTransport) Name() string { return "sse" }

// Deltas implements session.DeltaTransport.
func (t *sseTransport) Deltas() bool { return t.deltas }
func (t *sseTransport) Binary() bool { return false }

func (t *sseTransport) write(deadline time.Time, parts ...[]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended || t.aborted.Load() {
		return io.ErrClosedPipe
	}
	if err := t.rc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if t.aborted.Load() { // Abort came between the check and the deadline: expire it again
		return io.ErrClosedPipe
	}
	for _, p := range parts {
		if _, err := t.w.Write(p); err != nil {
			return err
		}
	}
	return t.rc.Flush()
}

// deadlineOf is ctx's deadline, or timeout from now.
func deadlineOf(ctx context.Context, timeout time.Duration) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(timeout)
}

func (t *sseTransport) Write(ctx context.Context, b []byte) error {
	// Frames are single-line JSON (newlines in text are escaped), so one data line each.
	return t.write(deadlineOf(ctx, closeWriteTimeout), []byte("data: "), b, []byte("\n\n"))
}

func (t *sseTransport) Close(code int, reason string) {
	t.once.Do(func() {
		b, _ := json.Marshal(map[string]any{"code": code, "reason": reason})
		_ = t.write(time.Now().Add(closeWriteTimeout), []byte("event: close\ndata: "), b, []byte("\n\n"))
		close(t.done)
	})
}

// Abort ends the stream at once, a write in progress included.
func (t *sseTransport) Abort() {
	t.aborted.Store(true)
	if !t.finished.Load() {
		_ = t.rc.SetWriteDeadline(time.Now())
	}
	t.once.Do(func() { close(t.done) })
}

func (t *sseTransport) Ping(ctx context.Context) error {
	return t.write(deadlineOf(ctx, closeWriteTimeout), []byte(": ping\n\n"))
}

// collectTransport gathers a POST's answers.
type collectTransport struct {
	mu     sync.Mutex
	frames []json.RawMessage
}

func (t *collectTransport) Name() string { return "sse_post" }
func (t *collectTransport) Binary() bool { return false }
func (t *collectTransport) Write(_ context.Context, b []byte) error {
	t.mu.Lock()
	t.frames = append(t.frames, append(json.RawMessage(nil), b...))
	t.mu.Unlock()
	return nil
}
func (t *collectTransport) Close(int, string)          {}
func (t *collectTransport) Abort()                     {}
func (t *collectTransport) Ping(context.Context) error { return nil }

func (s *Server) handleSSEPost(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	c, t, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	lim := session.TenantLimits(t)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(lim.MaxFrameBytes)))
	if err != nil {
		http.Error(w, "frame over "+strconv.Itoa(lim.MaxFrameBytes)+" bytes", http.StatusRequestEntityTooLarge)
		return
	}
	if id := r.URL.Query().Get("session"); id != "" {
		if sess, ok := s.sessions.Lookup(id); ok && sess.Tenant() == c.Tenant && sess.User() == c.Subject {
			sess.Handle(context.WithoutCancel(r.Context()), body)
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	addr := ""
	if a := clientAddr(r, s.cfg.TrustedProxies); a.IsValid() {
		addr = clientKey(a).String()
	}
	tr := &collectTransport{}
	sess := s.sessions.Detached(c, t, tr, addr)
	sess.Handle(context.WithoutCancel(r.Context()), body)
	sess.Drain()
	if sess.RateLimited() {
		s.holdAnswer()
	}
	tr.mu.Lock()
	out := tr.frames
	tr.mu.Unlock()
	if out == nil {
		out = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
