package natsrun

import (
	"net"
	"os"
	"sync"
	"time"
)

// inprocBuffer bounds what each direction of an in-process connection holds while the other
// side is busy, like a socket's kernel buffer: past it a writer waits (backpressure).
const inprocBuffer = 4 << 20

// inprocCloseWait bounds how long Close spends handing the last buffered bytes to the server.
const inprocCloseWait = time.Second

// bufferedConn puts socket-like buffers on the client end of the server's in-process
// connection. The server hands out one end of a net.Pipe, which has no buffer at all: every
// write waits until the other side reads. nats.go flushes while holding its connection lock and
// the server flushes to other clients from its read loop, so one busy reader stalled publishers
// on every connection (in the one-process runner: multi-second delivery at 1,000 msg/s, worse
// than loopback TCP). Here a goroutine reads the pipe eagerly and another writes it, each through
// a bounded buffer; both end with Close.
type bufferedConn struct {
	net.Conn // the pipe end: addresses and the transfer itself

	mu        sync.Mutex
	cond      *sync.Cond
	in        []byte // read from the server, not yet read by the client
	inErr     error  // how the reader goroutine ended
	out       []byte // written by the client, not yet taken by the writer goroutine
	outErr    error  // the writer goroutine's failure
	closed    bool
	readUntil time.Time // read deadline; zero: none
	timer     *time.Timer
	done      sync.WaitGroup // both goroutines
	// writerDone is closed when the writer goroutine has returned.
	writerDone chan struct{}
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, writerDone: make(chan struct{})}
	b.cond = sync.NewCond(&b.mu)
	b.done.Add(2)
	go b.readLoop()
	go b.writeLoop()
	return b
}

func (b *bufferedConn) readLoop() {
	defer b.done.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := b.Conn.Read(buf)
		b.mu.Lock()
		for len(b.in)+n > inprocBuffer && !b.closed {
			b.cond.Wait()
		}
		b.in = append(b.in, buf[:n]...)
		if err != nil {
			b.inErr = err
		}
		b.cond.Broadcast()
		b.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (b *bufferedConn) writeLoop() {
	defer b.done.Done()
	defer close(b.writerDone)
	var chunk []byte
	for {
		b.mu.Lock()
		for len(b.out) == 0 && !b.closed {
			b.cond.Wait()
		}
		if len(b.out) == 0 { // closed and drained
			b.mu.Unlock()
			return
		}
		chunk, b.out = b.out, chunk[:0]
		b.cond.Broadcast() // room for writers
		b.mu.Unlock()
		if _, err := b.Conn.Write(chunk); err != nil {
			b.mu.Lock()
			b.outErr = err
			b.out = b.out[:0]
			b.cond.Broadcast()
			b.mu.Unlock()
			return
		}
	}
}

// Read returns what the server sent, waiting for it until the read deadline.
func (b *bufferedConn) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.in) == 0 {
		switch {
		case b.closed:
			return 0, net.ErrClosed
		case b.inErr != nil:
			return 0, b.inErr
		case !b.readUntil.IsZero() && !time.Now().Before(b.readUntil):
			return 0, os.ErrDeadlineExceeded
		}
		b.cond.Wait()
	}
	n := copy(p, b.in)
	b.in = b.in[n:]
	if len(b.in) == 0 {
		b.in = nil // let a drained burst's memory go
	}
	b.cond.Broadcast()
	return n, nil
}

// Write buffers p for the server, waiting while the buffer is full.
func (b *bufferedConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.out) > 0 && len(b.out)+len(p) > inprocBuffer && !b.closed && b.outErr == nil {
		b.cond.Wait()
	}
	switch {
	case b.closed:
		return 0, net.ErrClosed
	case b.outErr != nil:
		return 0, b.outErr
	}
	b.out = append(b.out, p...)
	b.cond.Broadcast()
	return len(p), nil
}

// Close hands what is buffered to the server (within inprocCloseWait), closes the pipe and
// waits for both goroutines.
func (b *bufferedConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	// The writer drains what is left and returns; the deadline bounds a server that no
	// longer reads. Closing the pipe then ends the reader.
	_ = b.Conn.SetWriteDeadline(time.Now().Add(inprocCloseWait))
	<-b.writerDone
	err := b.Conn.Close()
	b.done.Wait()
	return err
}

// SetDeadline sets the read deadline and the pipe's write deadline.
func (b *bufferedConn) SetDeadline(t time.Time) error {
	if err := b.SetReadDeadline(t); err != nil {
		return err
	}
	return b.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read's wait for the server.
func (b *bufferedConn) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readUntil = t
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if !t.IsZero() && !b.closed {
		b.timer = time.AfterFunc(time.Until(t), func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
	}
	return nil
}

// SetWriteDeadline is accepted and ignored: writes wait only for buffer room, and the
// buffer drains as long as the server runs; Close bounds the last hand-over.
func (b *bufferedConn) SetWriteDeadline(time.Time) error { return nil }
