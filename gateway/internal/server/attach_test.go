package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAttachmentName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, typ, want string
	}{
		{"extension from the type", "cat.exe", "image/png", "cat.png"},
		{"right extension kept", "photo.jpeg", "image/jpeg", "photo.jpg"},
		{"right-to-left override stripped", "invoice\u202egnp.exe", "image/png", "invoicegnp.png"},
		{"isolates and marks stripped", "a\u2066b\u2069c\u200f.pdf", "application/pdf", "abc.pdf"},
		{"double extension loses the last", "report.pdf.exe", "text/plain", "report.pdf.txt"},
		{"base name only", "../../etc/passwd", "text/plain", "passwd.txt"},
		{"windows path", `C:\Users\a\cv.pdf`, "application/pdf", "cv.pdf"},
		{"nothing left", "\u202e.exe", "image/gif", "attachment.gif"},
		{"control characters", "a\x00b\nc.png", "image/png", "abc.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := AttachmentName(tc.in, tc.typ); got != tc.want {
				t.Fatalf("AttachmentName(%q, %q) = %q, want %q", tc.in, tc.typ, got, tc.want)
			}
		})
	}
}

// readCountingListener counts the bytes the server reads from its connections and reports
// each connection's close.
type readCountingListener struct {
	net.Listener
	read   *atomic.Int64
	closed chan struct{}
}

func (l readCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readCountingConn{Conn: c, read: l.read, closed: l.closed}, nil
}

type readCountingConn struct {
	net.Conn
	read   *atomic.Int64
	closed chan struct{}
	once   sync.Once
}

func (c *readCountingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *readCountingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestRefusalDoesNotReadTheBody: after a handler refused an upload without reading its body,
// net/http went on to read and discard up to 256 KB of a chunked body before closing the
// connection, even with Connection: close; under a flood of refused uploads that was a fifth of
// the gateway's CPU. Through refusing, the server reads little beyond the headers.
func TestRefusalDoesNotReadTheBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wrap     bool
		min, max int64 // bytes the server may have read by the time it closes the connection
	}{
		{name: "refusing", wrap: true, max: 64 << 10},
		{name: "plain net/http reads on (the premise)", wrap: false, min: 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var read atomic.Int64
			closed := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.wrap {
					w = &refusing{ResponseWriter: w, rc: http.NewResponseController(w)}
				}
				w.Header().Set("Connection", "close")
				http.Error(w, "not a participant", http.StatusForbidden)
			}))
			srv.Listener = readCountingListener{Listener: srv.Listener, read: &read, closed: closed}
			srv.Start()
			defer srv.Close()

			// A client that streams a chunked body and keeps sending after the answer, as a
			// flood's client does, until the server closes the connection.
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, "POST /v1/attachments HTTP/1.1\r\nHost: x\r\n"+
				"Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 4096, make([]byte, 4096)))
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := conn.Write(chunk); err != nil {
						return
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			select {
			case <-closed:
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not close the connection")
			}
			_ = conn.Close()
			wg.Wait()
			got := read.Load()
			if tc.max > 0 && got > tc.max {
				t.Fatalf("server read %d bytes, want at most %d", got, tc.max)
			}
			if got < tc.min {
				t.Fatalf("server read %d bytes, want at least %d", got, tc.min)
			}
		})
	}
}
