package server

// The connection under a WebSocket: small buffers while idle, and a session's pending frames
// written to the socket in one system call per batch instead of one per frame. The upgrade's
// 101 response waits for the connection's first write (the welcome, or a close), so the two
// leave in one system call too.

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	// wsReadBuffer is the read buffer coder/websocket gets in place of net/http's 4 KiB one:
	// chat frames are a few hundred bytes, and a payload larger than the buffer is read
	// straight into the message, so a small buffer costs a system call only for big frames.
	wsReadBuffer = 512
	// wsWriteBuffer is the write buffer coder/websocket gets in place of net/http's 4 KiB one.
	// Frames of a batch go to the cork buffer (pooled, held only during the batch), so this
	// one carries only control frames written on their own (pings, pongs, closes: at most
	// 2+4+125 bytes, one write each).
	wsWriteBuffer = 256
	// corkFlushAt bounds the cork buffer: a batch past it is written out in parts, so one
	// socket's big batch does not pin a large buffer in the pool.
	corkFlushAt = 64 << 10
	// lingerFor and lingerMax bound the lingering close: how long and how much of what the
	// peer still sends is read and dropped before the socket closes.
	lingerFor = 100 * time.Millisecond
	lingerMax = 64 << 10
)

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// corkConn is a hijacked connection that can hold its writes: between cork and uncork every
// write is appended to a pooled buffer, and uncork writes the buffer with one system call.
// Writes outside a cork (coder/websocket's pongs and closes from the reading goroutine, pings)
// go straight through, in order with the corked ones (mu).
type corkConn struct {
	net.Conn
	leftover []byte // bytes the HTTP server read past the upgrade request, returned first

	mu      sync.Mutex
	pending []byte // the 101 response, written ahead of the first write
	corked  bool
	buf     *[]byte
	err     error // a write of the buffer failed: the batch fails
}

// Close ends the connection as HTTP servers do, with a lingering close: it sends FIN first and
// reads and drops what the peer still sends, for a moment. Closing a socket with unread input
// makes the kernel send a reset, which drops the close frame the client has not read yet: a
// client whose frame went over the size limit (its payload left unread behind the small read
// buffer) would see its connection reset instead of close code 1009.
//
// What a batch in progress holds is written first: the close frame coder/websocket writes from
// the reading goroutine (1009 for a frame over the limit) joins a session's batch when one is
// corked, and the batch never gets to uncork once the connection is closed under it.
func (c *corkConn) Close() error {
	c.mu.Lock()
	if c.corked {
		c.flushLocked()
	}
	c.mu.Unlock()
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
		_ = c.Conn.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.CopyN(io.Discard, c.Conn, lingerMax)
	}
	return c.Conn.Close()
}

// Read returns the HTTP server's leftover bytes first. Only one goroutine reads at a time
// (coder/websocket's read lock), so leftover needs no lock.
func (c *corkConn) Read(p []byte) (int, error) {
	if len(c.leftover) > 0 {
		n := copy(p, c.leftover)
		if c.leftover = c.leftover[n:]; len(c.leftover) == 0 {
			c.leftover = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		if c.pending != nil {
			b := append(c.pending, p...)
			c.pending = nil
			n, err := c.Conn.Write(b)
			return max(n-(len(b)-len(p)), 0), err
		}
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	*c.buf = append(*c.buf, p...)
	if len(*c.buf) >= corkFlushAt {
		c.flushLocked()
	}
	return len(p), c.err
}

func (c *corkConn) flushLocked() {
	if len(*c.buf) == 0 || c.err != nil {
		return
	}
	_, c.err = c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
}

// cork holds writes until uncork; the socket writes it makes must end by deadline.
func (c *corkConn) cork(deadline time.Time) {
	c.mu.Lock()
	c.corked, c.err = true, nil
	c.buf = corkBufs.Get().(*[]byte)
	if c.pending != nil {
		*c.buf = append(*c.buf, c.pending...)
		c.pending = nil
	}
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(deadline)
}

// uncork writes what was held and returns the first write error of the batch.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	c.corked = false
	if cap(*c.buf) <= corkFlushAt*2 {
		*c.buf = (*c.buf)[:0]
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return c.err
}

// hijacker hands coder/websocket a corkConn with small buffers when it hijacks the request's
// connection. It keeps the 101 response from net/http, which would write it on its own (one
// system call per upgrade) when the connection is hijacked, and gives it to the corkConn to
// write ahead of the first frames instead: the client learns the upgrade succeeded when its
// welcome arrives, as it would a moment later anyway.
type hijacker struct {
	http.ResponseWriter
	conn      *corkConn
	switching bool // WriteHeader(101) was called and held back
}

// WriteHeader holds a 101 back for Hijack; any other status (Accept's refusals, a failed
// hijack) goes to net/http as usual.
func (h *hijacker) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols {
		h.switching = true
		return
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	c := &corkConn{Conn: nc}
	if h.switching {
		c.pending = switchingResponse(h.Header())
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		c.leftover = bytes.Clone(b)
	}
	h.conn = c
	// net/http's buffers (4 KiB each) are dropped with brw: an idle socket keeps only these.
	return c, bufio.NewReadWriter(bufio.NewReaderSize(c, wsReadBuffer), bufio.NewWriterSize(c, wsWriteBuffer)), nil
}

// switchingResponse is the 101 response with the headers coder/websocket set (and any the
// server's middleware set before), as net/http would have written it.
func switchingResponse(hdr http.Header) []byte {
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}
