// Package natsrun runs an embedded nats-server with JetStream for local development: the
// store lives in a directory that survives restarts (./.data/nats under `make run`), so
// conversations and tenants are still there the next time.
package natsrun

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// DefaultPort is the standard NATS client port, tried first.
const DefaultPort = 4222

// readyTimeout bounds how long the server may take to accept connections; recovering a large
// store after a crash can take a few seconds.
const readyTimeout = 60 * time.Second

// Options configure the server.
type Options struct {
	// Host is the listen host (default 127.0.0.1: a development server is not exposed).
	Host string
	// Port is the client port; 0 means DefaultPort, -1 a random free port.
	Port int
	// FallbackPort lets Start pick another port when Port is taken (for the default port,
	// where another NATS server on the machine is common): one of the next ten, else any free
	// one. Server.Fallback reports when it did.
	FallbackPort bool
	// StoreDir is the JetStream store directory (required).
	StoreDir string
	// ServerName names the server (default frontdesk-local). JetStream keys its store by the
	// server name, so keep it stable across runs.
	ServerName string
	// MaxStore bounds JetStream file storage (default 10 GiB). Without a bound the server
	// reserves a share of the disk.
	MaxStore int64
	// MaxMemory bounds JetStream memory storage (default 256 MiB).
	MaxMemory int64
	// Log receives the server's notices, warnings and errors; nil discards them.
	Log *zap.Logger
	// Auth is a nats-server configuration snippet with the security setup (operator, accounts
	// in a memory resolver: natsauth's ServerConfig). Empty: no authentication.
	Auth []byte
}

// Server is a running embedded NATS server.
type Server struct {
	mu       sync.Mutex
	opts     *server.Options
	srv      *server.Server
	log      *zap.Logger
	fallback bool
}

// Start starts a JetStream server with opts and returns once it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsrun: StoreDir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		port = DefaultPort
	}
	s := &Server{log: opts.Log}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if port > 0 && !free(host, port) {
		// Checked up front: a server that cannot listen only logs it and never gets ready.
		if !opts.FallbackPort {
			return nil, fmt.Errorf("natsrun: port %d on %s is taken", port, host)
		}
		s.fallback = true
		// The next few ports first, so the URL stays the same from one run to the next.
		wanted := port
		port = -1
		for p := wanted + 1; p <= wanted+10; p++ {
			if free(host, p) {
				port = p
				break
			}
		}
	}
	name := opts.ServerName
	if name == "" {
		name = "frontdesk-local"
	}
	maxStore, maxMem := opts.MaxStore, opts.MaxMemory
	if maxStore <= 0 {
		maxStore = 10 << 30
	}
	if maxMem <= 0 {
		maxMem = 256 << 20
	}
	// With Auth, start from the parsed security setup (it keeps the resolver's preloaded
	// accounts, which live in unexported fields) and set everything else on it.
	o := &server.Options{}
	if len(opts.Auth) > 0 {
		var err error
		if o, err = authOptions(opts.Auth); err != nil {
			return nil, err
		}
	}
	o.ServerName = name
	o.Host, o.Port = host, port
	o.JetStream, o.StoreDir = true, opts.StoreDir
	o.JetStreamMaxStore, o.JetStreamMaxMemory = maxStore, maxMem
	o.NoSigs = true
	// Thousands of local test clients (the load generator) reconnecting at once must not be
	// turned away.
	o.MaxConn = 1 << 16
	s.opts = o
	// nats-server 2.11+ caps a stream at 1,000 consumers unless the stream or account sets a
	// limit; the gateway's syncs and gap fills create short-lived ordered consumers on
	// FD_MESSAGES, many at once after a reconnect (besides the persister's and AI bridge's
	// durables), so the cap could refuse them.
	s.opts.JetStreamLimits.DefaultMaxConsumers = -1
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// authOptions parses a configuration snippet the way nats-server reads its file.
func authOptions(conf []byte) (*server.Options, error) {
	f, err := os.CreateTemp("", "nats-auth-*.conf")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	o, err := server.ProcessConfigFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("natsrun: auth configuration: %w", err)
	}
	return o, nil
}

// free reports whether host:port can be listened on now.
func free(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, err := server.NewServer(s.opts.Clone())
	if err != nil {
		return fmt.Errorf("natsrun: %w", err)
	}
	srv.SetLogger(zapLogger{s.log.Sugar()}, false, false)
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		return fmt.Errorf("natsrun: server on %s:%d not ready after %s", s.opts.Host, s.opts.Port, readyTimeout)
	}
	// Pin the port so a restart comes back where clients reconnect.
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		s.opts.Port = a.Port
	}
	s.srv = srv
	return nil
}

// URL is the client URL, nats://host:port. It stays the same across Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://%s", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)))
}

// InProcessConn implements nats.InProcessConnProvider: a connection to the running server
// over an in-memory pipe, for services in this process (nats.InProcessServer). It asks the
// server current at the time, so a connection reconnecting after Restart reaches the new one.
// The server authenticates it like a TCP client (the client still presents its credentials).
func (s *Server) InProcessConn() (net.Conn, error) {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil, errors.New("natsrun: server is down")
	}
	c, err := srv.InProcessConn()
	if err != nil {
		return nil, fmt.Errorf("natsrun: in-process connection: %w", err)
	}
	return newBufferedConn(c), nil
}

// Fallback reports whether the requested port was taken and a free one was used instead.
func (s *Server) Fallback() bool { return s.fallback }

// Shutdown stops the server and waits until it is down. It is safe to call twice.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart stops the server and starts it again on the same port with the same store.
func (s *Server) Restart() error {
	s.Shutdown()
	var err error
	// The port was just released; a listener in TIME_WAIT can delay the bind briefly.
	for range 50 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// zapLogger adapts server.Logger to zap. Debug and trace stay off.
type zapLogger struct{ l *zap.SugaredLogger }

func (z zapLogger) Noticef(format string, v ...any) { z.l.Infof(format, v...) }
func (z zapLogger) Warnf(format string, v ...any)   { z.l.Warnf(format, v...) }
func (z zapLogger) Fatalf(format string, v ...any)  { z.l.Errorf(format, v...) }
func (z zapLogger) Errorf(format string, v ...any)  { z.l.Errorf(format, v...) }
func (z zapLogger) Debugf(format string, v ...any)  {}
func (z zapLogger) Tracef(format string, v ...any)  {}
