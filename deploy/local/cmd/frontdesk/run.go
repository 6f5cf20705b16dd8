package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/logging"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/natsrun"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/pgrun"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/procs"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// agentTokenTTL is the lifetime of the printed demo agent tokens: long enough for a day of
// trying things out, short enough that a leaked one does not live forever.
const agentTokenTTL = 7 * 24 * time.Hour

// defaultGOGC is the one process's GC target: every service's garbage in one heap made the
// collector 9% of the CPU at 1,000 msg/s with Go's default of 100 (mark workers and assists);
// 200 cut that to under 4% for about 50 MiB more RSS (BENCHMARKS.md, issue 18 session 5).
// GOMEMLIMIT, read by the runtime, still bounds the heap when set.
const defaultGOGC = 200

type options struct {
	processes bool
	bin       string
	data      string
	tenants   string
	listen    string
	natsPort  int
	pgPort    int
	opsPort   int
	logLevel  string
	// natsPortSet reports -nats-port on the command line: an explicit port must be used as
	// given, the default may fall back to a free one.
	natsPortSet bool
	// gogc is the GC target percentage of the one process (in-process services only).
	gogc int
	// gogcSet reports -gogc on the command line: it then wins over the GOGC variable.
	gogcSet bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("frontdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.processes, "processes", false, "run the services as separate processes from -bin")
	fs.StringVar(&o.bin, "bin", "bin", "directory of the service binaries (make build), with -processes")
	fs.StringVar(&o.data, "data", ".data", "directory of the local NATS store, Postgres cluster and JWT secret")
	fs.StringVar(&o.tenants, "tenants", "", "tenants seed files, comma-separated (default: deploy/local/demo/tenants.yaml)")
	fs.StringVar(&o.listen, "listen", ":8080", "gateway public address")
	fs.IntVar(&o.natsPort, "nats-port", natsrun.DefaultPort, "embedded NATS client port (-1: any free port; the default falls back to a free port when taken)")
	fs.IntVar(&o.pgPort, "pg-port", pgrun.DefaultPort, "local Postgres port (-1: any free port; falls back to a free port when taken)")
	fs.IntVar(&o.opsPort, "ops-port", 9090, "first ops port: gateway, dispatcher, persister, aibridge on it and the next three (0: free ports)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of the runner and the services (debug, info, warn, error)")
	fs.IntVar(&o.gogc, "gogc", defaultGOGC, "GC target percentage of the one process running every service (GOGC; a GOGC variable wins unless this flag is given; -1 turns the collector off)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) {
		o.natsPortSet = o.natsPortSet || f.Name == "nats-port"
		o.gogcSet = o.gogcSet || f.Name == "gogc"
	})
	if o.tenants == "" {
		for _, p := range []string{filepath.Join("deploy", "local", "demo", "tenants.yaml"), filepath.Join("demo", "tenants.yaml")} {
			if _, err := os.Stat(p); err == nil {
				o.tenants = p
				break
			}
		}
		if o.tenants == "" {
			return o, errors.New("no tenants file: run from the repository root or pass -tenants")
		}
	}
	return o, nil
}

// run starts everything, prints what to open, and stops everything in order when ctx ends
// (Ctrl-C) or a service fails: services first, then NATS, then Postgres.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	log, err := logging.NewTo(config.Log{Level: o.logLevel, Format: "console"}, os.Stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return err
	}
	// Stopped in start order at the end, after the services: NATS first (nothing needs it
	// then), Postgres last.
	var infra []func()
	defer func() {
		for _, stop := range infra {
			stop()
		}
	}()

	// NATS. The embedded server enforces the deployment's accounts and permissions
	// (deploy/natsauth): each service connects as its least-privilege user, the provisioner
	// creates the topology, the admin seeds tenants, exactly as in a cluster.
	natsURL, natsNote := getenv("FRONTDESK_NATS_URL"), "external (FRONTDESK_NATS_URL)"
	var creds *stack.Credentials
	// The embedded server, when there is one: services in this process and the runner's own
	// connections reach it over an in-memory pipe (no loopback TCP per message each way).
	var inproc nats.InProcessConnProvider
	if natsURL == "" {
		if creds, err = stack.GenerateCredentials(filepath.Join(o.data, "nats-auth")); err != nil {
			return err
		}
		srv, err := natsrun.Start(natsrun.Options{
			Port:         o.natsPort,
			FallbackPort: !o.natsPortSet,
			StoreDir:     filepath.Join(o.data, "nats"),
			Log:          log.Named("nats"),
			Auth:         creds.ServerConfig,
		})
		if err != nil {
			return err
		}
		infra = append(infra, func() { log.Info("stopping NATS"); srv.Shutdown() })
		natsURL = srv.URL()
		inproc = srv
		natsNote = "embedded, JetStream store in " + filepath.Join(o.data, "nats") +
			"; users' credentials in " + filepath.Join(o.data, "nats-auth", "creds") + " (admin.creds for the nats CLI)"
		if srv.Fallback() {
			log.Warn("NATS port taken (another NATS server?); the embedded server uses another",
				zap.Int("wanted", o.natsPort), zap.String("url", natsURL))
			natsNote += fmt.Sprintf("; port %d was taken", o.natsPort)
		}
	}

	// Postgres.
	dbURL, dbNote := getenv("FRONTDESK_DATABASE_URL"), "external (FRONTDESK_DATABASE_URL)"
	if dbURL == "" {
		pc, err := pgrun.Start(ctx, pgrun.Options{Dir: filepath.Join(o.data, "postgres"), Port: o.pgPort, Log: log.Named("postgres")})
		if err != nil {
			return err
		}
		infra = append(infra, func() {
			log.Info("stopping Postgres")
			if err := pc.Stop(context.Background()); err != nil {
				log.Warn("stop postgres", zap.Error(err))
			}
		})
		dbURL = pc.URL()
		dbNote = "local cluster in " + pc.Dir()
	}

	// Topology (by the provisioner: no service may create it) and the demo tenant (by the
	// admin), before the services start.
	connect := func(user string) (*nats.Conn, error) {
		opts := []nats.Option{nats.Name("frontdesk-local-" + user), nats.MaxReconnects(-1)}
		if creds != nil {
			opts = append(opts, nats.UserCredentials(creds.Files[user]))
		}
		if inproc != nil {
			opts = append(opts, nats.InProcessServer(inproc))
		}
		nc, err := nats.Connect(natsURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connect %s as %s: %w", natsURL, user, err)
		}
		return nc, nil
	}
	prov, err := connect(natsauth.Provisioner)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = stack.Provision(sctx, prov, 1)
	prov.Close()
	// The tenants of the local files are development tenants: they accept tokens of the local
	// secret (the banner's links, load generators, scripts). A production gateway has none.
	var devTenants []string
	if err == nil {
		var admin *nats.Conn
		if admin, err = connect(natsauth.Admin); err == nil {
			for _, file := range strings.Split(o.tenants, ",") {
				if err == nil {
					var ts []*fd.Tenant
					ts, err = stack.Seed(sctx, admin, strings.TrimSpace(file))
					for _, t := range ts {
						devTenants = append(devTenants, t.GetId())
					}
				}
			}
			admin.Close()
		}
	}
	cancel()
	if err != nil {
		return err
	}

	secret, created, err := stack.Secret(getenv, filepath.Join(o.data, "jwt-secret"))
	if err != nil {
		return fmt.Errorf("jwt secret: %w", err)
	}
	keysFile := filepath.Join(o.data, "gateway-keys.json")
	if _, err := stack.Keys(keysFile); err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	secretNote := "from " + stack.EnvSecret
	if getenv(stack.EnvSecret) == "" && getenv(stack.EnvJWTSecret) == "" {
		secretNote = "saved in " + filepath.Join(o.data, "jwt-secret")
		if created {
			secretNote = "generated, " + secretNote
		}
	}

	ops, err := opsAddrs(o.opsPort)
	if err != nil {
		return err
	}
	set := stack.Settings{
		NATSURL:         natsURL,
		DatabaseURL:     dbURL,
		JWTSecret:       secret,
		DevTenants:      devTenants,
		SigningKeysFile: keysFile,
		GatewayListen:   o.listen,
		Ops:             ops,
		LogLevel:        o.logLevel,
		LogFormat:       "console",
		// Profiles and the forced GC for load runs (BENCHMARKS.md); the ops ports are on
		// loopback.
		OpsDebug: true,
	}
	if creds != nil {
		set.Creds = creds.Files
	}
	// Tracing, when the runner's environment turns it on (OTEL_EXPORTER_OTLP_ENDPOINT...).
	if otel := stack.OTelEnv(getenv); len(otel) > 0 {
		set.Extra = map[string][]string{}
		for _, n := range stack.Names() {
			set.Extra[n] = otel
		}
	}

	// The services.
	var svc services
	if o.processes {
		svc, err = startProcesses(ctx, set, o.bin, log)
	} else {
		if o.gogcSet || getenv("GOGC") == "" {
			debug.SetGCPercent(o.gogc)
		}
		svc, err = startInProcess(ctx, set, inproc, log)
	}
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = waitReady(rctx, set, svc.failed())
	cancel()
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while starting: a normal stop.
		err = nil
	}
	if err == nil && ctx.Err() == nil {
		err = banner(stdout, o, set, secret, secretNote, natsNote, dbNote)
	}
	if err == nil {
		select {
		case <-ctx.Done():
			log.Info("stopping (signal)")
		case err = <-svc.failed():
			log.Error("a service failed; stopping everything", zap.Error(err))
		}
	}
	if stopErr := svc.stop(); stopErr != nil {
		log.Warn("services stopped with errors", zap.Error(stopErr))
	}
	return err
}

// services is the running set of services, in-process or as processes.
type services interface {
	// failed delivers the error of a service that stopped on its own.
	failed() <-chan error
	// stop stops every service, the gateway first.
	stop() error
}

// opsAddrs returns the ops addresses from base (0: free ports, chosen with their listeners
// held until all are, so no two services get the same one).
func opsAddrs(base int) (map[string]string, error) {
	names := []string{stack.Gateway, stack.Dispatcher, stack.Persister, stack.AIBridge}
	m := map[string]string{}
	for i, n := range names {
		port := base + i
		if base == 0 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			defer ln.Close()
			port = ln.Addr().(*net.TCPAddr).Port
		}
		m[n] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return m, nil
}

// waitReady polls every service's /readyz until all answer 200.
func waitReady(ctx context.Context, set stack.Settings, failed <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for _, n := range stack.Names() {
		url := "http://" + set.OpsAddr(n) + "/readyz"
		for {
			last := procs.Ready(ctx, client, url)
			if last == nil {
				break
			}
			select {
			case err := <-failed:
				return err
			case <-ctx.Done():
				return fmt.Errorf("%s not ready: %v", n, last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// banner prints what to open and the credentials to use.
func banner(w io.Writer, o options, set stack.Settings, secret, secretNote, natsNote, dbNote string) error {
	base := publicBase(o.listen)
	agent := func(id, name string) (string, error) {
		return token.Sign([]byte(secret), token.Claims{
			Subject: id, Tenant: "demo", Role: frames.RoleAgent, Name: name,
			Skills: []string{"billing"}, MaxChats: 3,
		}, agentTokenTTL)
	}
	alice, err := agent("agent_alice", "Alice")
	if err != nil {
		return fmt.Errorf("agent token: %w", err)
	}
	bob, err := agent("agent_bob", "Bob")
	if err != nil {
		return fmt.Errorf("agent token: %w", err)
	}
	mode := "in one process"
	if o.processes {
		mode = "as separate processes from " + o.bin
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nFrontdesk is running (services %s).\n\n", mode)
	fmt.Fprintf(&b, "  Customer widget:  %s/\n", base)
	fmt.Fprintf(&b, "  Agent console:    %s/agent   (paste the agent token, or open the link below)\n\n", base)
	fmt.Fprintf(&b, "  Agent token (tenant demo, agent_alice \"Alice\", valid 7 days):\n    %s\n", alice)
	fmt.Fprintf(&b, "  Signed-in console: %s/agent#token=%s\n", base, alice)
	fmt.Fprintf(&b, "  A second agent (agent_bob \"Bob\"), for transfers:\n    %s/agent#token=%s\n\n", base, bob)
	fmt.Fprintf(&b, "  Development secret (HS256, tenants %s only; %s):\n    %s\n", strings.Join(set.DevTenants, ", "), secretNote, secret)
	fmt.Fprintf(&b, "  Agent sign-in with OpenID Connect: add staff_sso to a tenant (see deploy/local/README.md).\n\n")
	fmt.Fprintf(&b, "  NATS:      %s (%s)\n", set.NATSURL, natsNote)
	fmt.Fprintf(&b, "  Postgres:  %s (%s)\n", config.RedactURL(set.DatabaseURL), dbNote)
	fmt.Fprintf(&b, "  Ops:       gateway http://%s, dispatcher http://%s, persister http://%s, aibridge http://%s (/healthz /readyz /metrics /debug/pprof/)\n\n",
		set.OpsAddr(stack.Gateway), set.OpsAddr(stack.Dispatcher), set.OpsAddr(stack.Persister), set.OpsAddr(stack.AIBridge))
	fmt.Fprintf(&b, "Ask the bot \"how long does shipping take?\", type \"human\" to reach an agent. Ctrl-C stops everything.\n\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// publicBase turns a listen address into the URL a browser on this machine opens.
func publicBase(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "127.0.0.1" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// prefixWriter writes whole lines to w, each prefixed, so the output of concurrent
// processes does not interleave mid-line.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}
