package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(p []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(p) }

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestCorkConn: writes between cork and uncork reach the socket as one write, in order with
// writes made outside a cork; the held 101 response goes out with the first write, corked or
// not; leftover bytes of the HTTP server are read first.
func TestCorkConn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		pending    string   // the held 101 response
		noCork     bool     // no batch: the first write is after
		corked     []string // written under one cork
		after      string   // written after uncork, uncorked
		wantWrites int32
	}{
		{"one batch, one write", "", false, []string{"aa", "bb", "cc"}, "", 1},
		{"control frame after a batch", "", false, []string{"aa", "bb"}, "pp", 2},
		{"empty batch writes nothing", "", false, nil, "pp", 1},
		{"the 101 leaves with the first batch", "HTTP/1.1 101\r\n\r\n", false, []string{"aa", "bb"}, "pp", 2},
		{"the 101 leaves with a first write outside a cork", "HTTP/1.1 101\r\n\r\n", true, nil, "pp", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, cl := tcpPair(t)
			cnt := &countingConn{Conn: s}
			c := &corkConn{Conn: cnt, leftover: []byte("left")}
			if tc.pending != "" {
				c.pending = []byte(tc.pending)
			}
			want := tc.pending
			if !tc.noCork {
				c.cork(time.Now().Add(5 * time.Second))
				for _, p := range tc.corked {
					if _, err := c.Write([]byte(p)); err != nil {
						t.Fatal(err)
					}
					want += p
				}
				if n := cnt.writes.Load(); n != 0 {
					t.Fatalf("%d writes reached the socket while corked", n)
				}
				if err := c.uncork(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.after != "" {
				n, err := c.Write([]byte(tc.after))
				if err != nil || n != len(tc.after) {
					t.Fatalf("write = %d, %v; want %d", n, err, len(tc.after))
				}
				want += tc.after
			}
			got := make([]byte, len(want))
			_ = cl.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(cl, got); err != nil || string(got) != want {
				t.Fatalf("peer read %q (%v), want %q", got, err, want)
			}
			if n := cnt.writes.Load(); n != tc.wantWrites {
				t.Fatalf("socket writes = %d, want %d", n, tc.wantWrites)
			}
			// What net/http had read past the upgrade comes first, then the socket.
			if _, err := cl.Write([]byte("peer")); err != nil {
				t.Fatal(err)
			}
			in := make([]byte, 8)
			if _, err := io.ReadFull(c, in); err != nil || string(in) != "leftpeer" {
				t.Fatalf("read %q (%v), want leftpeer", in, err)
			}
		})
	}
}

// TestHijackerHoldsTheSwitch: the hijacker keeps a 101 from net/http (it is written with the
// connection's first frames) and lets every other status through, as Accept's refusals need.
func TestHijackerHoldsTheSwitch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		code      int
		switching bool
		recorded  bool // net/http saw the status
	}{
		{"switching protocols is held", http.StatusSwitchingProtocols, true, false},
		{"a refusal goes through", http.StatusForbidden, false, true},
		{"a failed hijack's error goes through", http.StatusInternalServerError, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h := &hijacker{ResponseWriter: rec}
			h.WriteHeader(tc.code)
			if h.switching != tc.switching || (rec.Code == tc.code) != tc.recorded {
				t.Fatalf("switching %v, recorded %d; want switching %v, recorded %v", h.switching, rec.Code, tc.switching, tc.recorded)
			}
		})
	}
	hdr := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {"k"}}
	want := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-Websocket-Accept: k\r\nUpgrade: websocket\r\n\r\n"
	if got := string(switchingResponse(hdr)); got != want {
		t.Fatalf("response = %q, want %q", got, want)
	}
}

// TestCloseFlushesHeldBatch: a connection closed while a batch is corked sends what the batch
// holds before it ends (the close frame the reading goroutine wrote among it, above all). The abuse suite saw a client whose frame went over the limit
// get its connection ended without the 1009 close frame.
func TestCloseFlushesHeldBatch(t *testing.T) {
	t.Parallel()
	s, cl := tcpPair(t)
	c := &corkConn{Conn: s}
	c.cork(time.Now().Add(5 * time.Second))
	for _, p := range []string{"frame", "close"} {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(cl)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if string(got) != "frameclose" {
		t.Fatalf("the peer read %q before the end, want %q", got, "frameclose")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
