package natsrun

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestBufferedConn: writes to the in-process connection do not wait for the server to read
// (up to the buffer), everything arrives in order both ways, the read deadline holds, and
// Close ends both goroutines (goleak checks in TestMain).
func TestBufferedConn(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	c := newBufferedConn(client)
	defer server.Close()

	sent := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, nobody reading yet
	wrote := make(chan error, 1)
	go func() {
		for p := sent; len(p) > 0; p = p[min(len(p), 1000):] {
			if _, err := c.Write(p[:min(len(p), 1000)]); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes waited for a reader: the connection is not buffered")
	}
	got := make([]byte, len(sent))
	if _, err := io.ReadFull(server, got); err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("server read %d bytes, equal %v, err %v", len(got), bytes.Equal(got, sent), err)
	}

	// The server's writes do not wait for the client to read either.
	if _, err := server.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "+OK\r\n" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}
