// Package wsclient is a small Frontdesk client for tests: it gets visitor tokens, opens the
// WebSocket exactly as a browser would (token in the query, an Origin header, the JSON
// subprotocol), sends client frames and waits for server frames by type or predicate.
//
// Frames are kept in arrival order until a Wait takes them, so a test can wait for frames in
// any order without losing the ones it did not ask for yet.
package wsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DefaultWait bounds Wait when the context has no deadline.
const DefaultWait = 15 * time.Second

// ErrClosed is returned by Wait once the connection is gone and no kept frame matches.
var ErrClosed = errors.New("wsclient: connection closed")

var decode = protojson.UnmarshalOptions{DiscardUnknown: true}

// Visitor asks the gateway at base (http://host:port) for an anonymous customer token of
// tenant, as the widget does, and returns the token and the user id.
func Visitor(ctx context.Context, base, tenant, name string) (token, user string, err error) {
	body, _ := json.Marshal(map[string]string{"tenant": tenant, "name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v1/visitors", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", originOf(base))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("wsclient: visitor: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("wsclient: visitor: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var out struct {
		Token string `json:"token"`
		User  string `json:"user"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", "", fmt.Errorf("wsclient: visitor: bad answer %q: %v", b, err)
	}
	return out.Token, out.User, nil
}

// originOf returns the origin of an http(s) or ws(s) base URL, as a browser page served by
// the gateway would send it.
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	return u.Scheme + "://" + u.Host
}

// Options tune Dial.
type Options struct {
	// Origin is sent as the Origin header (default: the origin of base).
	Origin string
	// Header adds request headers.
	Header http.Header
}

// Client is one WebSocket session.
type Client struct {
	conn *websocket.Conn

	mu      sync.Mutex
	kept    []*fd.ServerFrame
	changed chan struct{} // closed and replaced whenever kept or err changes
	err     error         // why the read loop ended
	// Welcome is the first frame of the session.
	Welcome *fd.ServerFrame
}

// Dial opens GET /v1/ws on the gateway at base (http://host:port) with token and waits for
// the welcome frame.
func Dial(ctx context.Context, base, token string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(strings.TrimRight(base, "/") + "/v1/ws")
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	h := http.Header{}
	for k, v := range opts.Header {
		h[k] = v
	}
	origin := opts.Origin
	if origin == "" {
		origin = originOf(base)
	}
	h.Set("Origin", origin)
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPHeader:   h,
		Subprotocols: []string{frames.SubprotocolJSON},
	})
	if err != nil {
		if resp != nil {
			return nil, &DialError{Status: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("wsclient: dial: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{conn: conn, changed: make(chan struct{})}
	go c.readLoop()
	w, err := c.WaitType(ctx, frames.TypeWelcome)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Welcome = w
	return c, nil
}

// DialError is a refused upgrade, with the HTTP status (401 bad token, 403 origin).
type DialError struct {
	Status int
	Err    error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("wsclient: dial: HTTP %d: %v", e.Status, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

func (c *Client) readLoop() {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		f := &fd.ServerFrame{}
		if err := decode.Unmarshal(data, f); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("wsclient: undecodable frame %q: %w", data, err)
			c.notifyLocked()
			c.mu.Unlock()
			_ = c.conn.Close(websocket.StatusProtocolError, "bad frame")
			return
		}
		c.mu.Lock()
		c.kept = append(c.kept, f)
		c.notifyLocked()
		c.mu.Unlock()
	}
}

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Send writes one client frame as JSON.
func (c *Client) Send(ctx context.Context, f *fd.ClientFrame) error {
	if err := c.conn.Write(ctx, websocket.MessageText, frames.AppendClientJSON(nil, f)); err != nil {
		return fmt.Errorf("wsclient: send %s: %w", f.GetType(), err)
	}
	return nil
}

// SendRaw writes raw text, for tests of malformed input.
func (c *Client) SendRaw(ctx context.Context, text string) error {
	return c.conn.Write(ctx, websocket.MessageText, []byte(text))
}

// Wait returns and removes the first kept or coming frame for which match is true. It fails
// when ctx ends (or after DefaultWait without a deadline) or the connection closes first; the
// error lists the frames seen, to make a failing test readable.
func (c *Client) Wait(ctx context.Context, match func(*fd.ServerFrame) bool) (*fd.ServerFrame, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
		defer cancel()
	}
	for {
		c.mu.Lock()
		for i, f := range c.kept {
			if match(f) {
				c.kept = append(c.kept[:i:i], c.kept[i+1:]...)
				c.mu.Unlock()
				return f, nil
			}
		}
		err, changed := c.err, c.changed
		pending := c.describeLocked()
		c.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%w (%v); kept frames: %s", ErrClosed, err, pending)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("wsclient: no matching frame: %w; kept frames: %s", ctx.Err(), pending)
		}
	}
}

// WaitType waits for a frame of type typ.
func (c *Client) WaitType(ctx context.Context, typ string) (*fd.ServerFrame, error) {
	return c.Wait(ctx, func(f *fd.ServerFrame) bool { return f.GetType() == typ })
}

// Do sends f (with an id) and waits for the ack or error answering it; an error frame is
// returned as *FrameError.
func (c *Client) Do(ctx context.Context, f *fd.ClientFrame) (*fd.ServerFrame, error) {
	if f.GetId() == "" {
		return nil, errors.New("wsclient: Do needs a frame id")
	}
	if err := c.Send(ctx, f); err != nil {
		return nil, err
	}
	r, err := c.Wait(ctx, func(s *fd.ServerFrame) bool {
		return (s.GetType() == frames.TypeAck || s.GetType() == frames.TypeError) && s.GetId() == f.GetId()
	})
	if err != nil {
		return nil, err
	}
	if r.GetType() == frames.TypeError {
		return r, &FrameError{Code: r.GetCode(), Message: r.GetMessage()}
	}
	return r, nil
}

// FrameError is an error frame answering a client frame.
type FrameError struct {
	Code, Message string
}

func (e *FrameError) Error() string { return "wsclient: error frame " + e.Code + ": " + e.Message }

// Kept returns a copy of the frames received and not yet taken by a Wait.
func (c *Client) Kept() []*fd.ServerFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*fd.ServerFrame(nil), c.kept...)
}

// Drop discards the kept frames for which match is true (nil: all) and returns how many.
func (c *Client) Drop(match func(*fd.ServerFrame) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	keep := c.kept[:0]
	for _, f := range c.kept {
		if match == nil || match(f) {
			n++
			continue
		}
		keep = append(keep, f)
	}
	c.kept = keep
	return n
}

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// CloseStatus returns the close code the server sent, or -1.
func (c *Client) CloseStatus() websocket.StatusCode {
	return websocket.CloseStatus(c.Err())
}

// Close closes the connection normally.
func (c *Client) Close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
}

// Abort drops the connection without a closing handshake, as a customer losing their network does.
func (c *Client) Abort() {
	_ = c.conn.CloseNow()
}

func (c *Client) describeLocked() string {
	if len(c.kept) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, f := range c.kept {
		if i == 12 {
			fmt.Fprintf(&b, " ... (%d more)", len(c.kept)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(frames.AppendJSON(nil, f))
	}
	return b.String()
}

// Is returns a predicate matching frames of type typ about conversation conv ("" matches
// any conversation).
func Is(typ, conv string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool {
		return f.GetType() == typ && (conv == "" || f.GetConv() == conv)
	}
}
