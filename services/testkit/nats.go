// Package testkit holds the helpers every Frontdesk module's tests share: in-process NATS
// servers and clusters with JetStream, a fresh Postgres database per test, polling and a test
// logger. Everything is real (no fakes) and cleaned up through t.Cleanup.
//
// A test binary that uses Database should have
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
//
// so a throwaway Postgres cluster it had to start is stopped when the tests end.
package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/services/streams"
)

// readyTimeout bounds how long a started server may take to accept connections.
const readyTimeout = 15 * time.Second

// NATS is an in-process nats-server with JetStream, listening on 127.0.0.1.
type NATS struct {
	mu   sync.Mutex
	opts *server.Options // kept across restarts; ports are pinned after the first start
	srv  *server.Server
	log  *tbLog
}

// RunNATS starts a JetStream server on a random port with its store in t.TempDir() and shuts
// it down in t.Cleanup. Server logs are off; `go test -v` shows warnings and errors, and
// FRONTDESK_TEST_NATS_LOG=1 shows everything.
func RunNATS(t testing.TB) *NATS {
	t.Helper()
	return RunNATSWith(t, nil)
}

// RunNATSWith is RunNATS with options adjusted by configure (accounts, users, permissions,
// limits) before the server starts. configure may be nil.
func RunNATSWith(t testing.TB, configure func(*server.Options)) *NATS {
	t.Helper()
	opts := baseOptions(t)
	if configure != nil {
		configure(opts)
	}
	n := &NATS{opts: opts, log: newTBLog(t)}
	if err := n.start(); err != nil {
		t.Fatalf("testkit: start nats: %v", err)
	}
	t.Cleanup(n.Shutdown)
	return n
}

func baseOptions(t testing.TB) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
		// Without a limit a JetStream server reserves a share of the disk and memory; tests
		// share a small machine.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
	}
}

// start starts a server from n.opts and pins its ports so Restart finds it at the same
// address. Callers hold no lock.
func (n *NATS) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	srv, err := server.NewServer(n.opts.Clone())
	if err != nil {
		return err
	}
	if n.log.enabled() {
		srv.SetLogger(n.log, n.log.debug, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		return fmt.Errorf("server not ready after %s", readyTimeout)
	}
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		n.opts.Port = a.Port
	}
	if a := srv.ClusterAddr(); a != nil {
		n.opts.Cluster.Port = a.Port
	}
	n.srv = srv
	return nil
}

// URL is the server's client URL, nats://127.0.0.1:<port>. It stays the same across Restart.
func (n *NATS) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("nats://%s:%d", n.opts.Host, n.opts.Port)
}

// Server returns the running server (nil after Shutdown).
func (n *NATS) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Shutdown stops the server and waits until it is down. Stopping a stopped server is a no-op.
func (n *NATS) Shutdown() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart stops the server if it runs and starts it again on the same port with the same
// store, returning once it accepts connections. Clients configured to reconnect come back.
func (n *NATS) Restart(t testing.TB) {
	t.Helper()
	n.Shutdown()
	var err error
	// The port was just released; another process grabbing it in between is unlikely but a
	// listener in TIME_WAIT can delay the bind briefly.
	for range 20 {
		if err = n.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testkit: restart nats on %s: %v", n.URL(), err)
}

// Connect connects a client to url (one URL or a comma-separated list) that reconnects quickly
// and forever, and returns it with its JetStream context. The connection is closed in
// t.Cleanup.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url,
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
		nats.Timeout(2*time.Second),
	)
	if err != nil {
		t.Fatalf("testkit: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testkit: jetstream: %v", err)
	}
	return nc, js
}

// Provision provisions the declared topology with one replica.
func Provision(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Declared(streams.Options{Replicas: 1})); err != nil {
		t.Fatalf("testkit: provision: %v", err)
	}
}

// tbLog adapts nats-server logging to t.Logf, guarded so a server logging after the test
// ended does not panic the test binary.
type tbLog struct {
	g     *guard
	all   bool // notices and debug too
	debug bool
}

func newTBLog(t testing.TB) *tbLog {
	all := os.Getenv("FRONTDESK_TEST_NATS_LOG") == "1"
	l := &tbLog{all: all, debug: all}
	if all || testing.Verbose() {
		l.g = newGuard(t)
	}
	return l
}

func (l *tbLog) enabled() bool { return l.g != nil }

func (l *tbLog) logf(level, format string, v ...any) {
	l.g.logf("nats-server "+level+": "+format, v...)
}

// Noticef implements server.Logger.
func (l *tbLog) Noticef(format string, v ...any) {
	if l.all {
		l.logf("INF", format, v...)
	}
}

// Warnf implements server.Logger.
func (l *tbLog) Warnf(format string, v ...any) { l.logf("WRN", format, v...) }

// Fatalf implements server.Logger.
func (l *tbLog) Fatalf(format string, v ...any) { l.logf("FTL", format, v...) }

// Errorf implements server.Logger.
func (l *tbLog) Errorf(format string, v ...any) { l.logf("ERR", format, v...) }

// Debugf implements server.Logger.
func (l *tbLog) Debugf(format string, v ...any) {
	if l.all {
		l.logf("DBG", format, v...)
	}
}

// Tracef implements server.Logger.
func (l *tbLog) Tracef(format string, v ...any) {}
