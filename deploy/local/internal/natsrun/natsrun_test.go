package natsrun

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestRestartKeepsStore stores a message, restarts the server and reads it back: the store
// directory is what `make run` keeps between runs.
func TestRestartKeepsStore(t *testing.T) {
	t.Parallel()
	s, err := Start(Options{Port: -1, StoreDir: t.TempDir(), Log: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, js := testkit.Connect(t, s.URL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	url := s.URL()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("URL changed across restart: %s -> %s", url, s.URL())
	}
	_, js = testkit.Connect(t, s.URL())
	var msg *jetstream.RawStreamMsg
	testkit.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		str, err := js.Stream(ctx, "T")
		if err != nil {
			return err
		}
		msg, err = str.GetMsg(ctx, 1)
		return err
	})
	if string(msg.Data) != "kept" {
		t.Fatalf("got %q", msg.Data)
	}
}

// TestFallbackPort takes a port and asks for it: the server moves to a free one and says so.
func TestFallbackPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	if _, err := Start(Options{Port: port, StoreDir: t.TempDir()}); err == nil {
		t.Fatal("started on a taken port without fallback")
	}
	s, err := Start(Options{Port: port, FallbackPort: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	if !s.Fallback() {
		t.Fatal("Fallback() = false")
	}
}
