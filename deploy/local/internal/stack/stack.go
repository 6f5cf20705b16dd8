// Package stack wires a local Frontdesk: the environment each service gets (the same
// FRONTDESK_* settings whether it runs in-process or as a separate process), seeding the
// tenants, the JWT secret kept between runs, and starting the services as processes in order.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tenants"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/procs"
	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
)

// Service names, in start order: the persister and dispatcher consume what the others
// publish, so they come first; the gateway, which takes traffic, comes last.
const (
	Persister  = "persister"
	Dispatcher = "dispatcher"
	AIBridge   = "aibridge"
	Gateway    = "gateway"
)

// Names returns the service names in start order.
func Names() []string { return []string{Persister, Dispatcher, AIBridge, Gateway} }

// EnvSecret is the gateway's local development secret setting (gateway.dev_secret); `make run`
// uses it when set. EnvJWTSecret is accepted as an alias.
const (
	EnvSecret    = "FRONTDESK_GATEWAY_DEV_SECRET"
	EnvJWTSecret = "FRONTDESK_GATEWAY_JWT_SECRET"
)

// Settings are what every service of a local system shares.
type Settings struct {
	// NATSURL is the NATS server (or comma-separated cluster) URL.
	NATSURL string
	// DatabaseURL is the persister's Postgres database.
	DatabaseURL string
	// JWTSecret is the local development secret: HS256 tokens it signs are believed for
	// DevTenants (local test clients and load generators mint tokens with it).
	JWTSecret string
	// DevTenants are the tenants that accept JWTSecret tokens.
	DevTenants []string
	// SigningKeysFile holds the gateway's own key set (see Keys).
	SigningKeysFile string
	// GatewayListen is the gateway's public address (default ":8080").
	GatewayListen string
	// Ops are the ops addresses by service (defaults 127.0.0.1:9090-9093).
	Ops map[string]string
	// LogLevel and LogFormat configure every service's log (defaults info, console).
	LogLevel, LogFormat string
	// Replicas of streams and buckets (default 1).
	Replicas int
	// Creds are the .creds files of the services' NATS users by service name (nats.creds);
	// none: no credentials.
	Creds map[string]string
	// OpsDebug serves the debug endpoints (pprof, the gateway's forced GC) on the ops ports
	// (ops.debug; off by default in a deployment). The local runner turns it on: its ops ports
	// are on loopback and the load generator needs them.
	OpsDebug bool
	// Extra adds environment entries (KEY=value) per service name.
	Extra map[string][]string
}

// DefaultOps returns the standard ops addresses, on loopback.
func DefaultOps() map[string]string {
	return map[string]string{
		Gateway:    "127.0.0.1:9090",
		Dispatcher: "127.0.0.1:9091",
		Persister:  "127.0.0.1:9092",
		AIBridge:   "127.0.0.1:9093",
	}
}

// OpsAddr is the ops address of service svc.
func (s Settings) OpsAddr(svc string) string {
	if a := s.Ops[svc]; a != "" {
		return a
	}
	return DefaultOps()[svc]
}

// Env returns the FRONTDESK_* environment of service svc, as KEY=value entries.
func (s Settings) Env(svc string) []string {
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	env := []string{
		"FRONTDESK_NATS_URL=" + s.NATSURL,
		"FRONTDESK_NATS_NAME=" + svc,
		"FRONTDESK_OPS_ADDR=" + s.OpsAddr(svc),
		"FRONTDESK_LOG_LEVEL=" + or(s.LogLevel, "info"),
		"FRONTDESK_LOG_FORMAT=" + or(s.LogFormat, "console"),
		// Local restarts should be quick; the reconnect delay backs off from here.
		"FRONTDESK_NATS_RECONNECT_WAIT=250ms",
		"FRONTDESK_SHUTDOWN_TIMEOUT=10s",
	}
	if c := s.Creds[svc]; c != "" {
		env = append(env, "FRONTDESK_NATS_CREDS="+c)
	}
	if s.OpsDebug {
		env = append(env, "FRONTDESK_OPS_DEBUG=true")
	}
	if s.Replicas > 0 {
		env = append(env, fmt.Sprintf("FRONTDESK_NATS_REPLICAS=%d", s.Replicas))
	}
	switch svc {
	case Persister:
		env = append(env, "FRONTDESK_DATABASE_URL="+s.DatabaseURL)
		// Retention and erasures purge with their own identity (natsauth.Retention).
		if c := s.Creds[natsauth.Retention]; c != "" {
			env = append(env, "FRONTDESK_PERSISTER_RETENTION_CREDS="+c)
		}
	case Gateway:
		env = append(env,
			"FRONTDESK_GATEWAY_LISTEN="+or(s.GatewayListen, ":8080"),
			EnvSecret+"="+s.JWTSecret,
			"FRONTDESK_GATEWAY_DEV_TENANTS="+strings.Join(s.DevTenants, ","),
			"FRONTDESK_GATEWAY_SIGNING_KEYS_FILE="+s.SigningKeysFile,
		)
	}
	return append(env, s.Extra[svc]...)
}

// OTelKeys are the standard OpenTelemetry variables the services read (config.Tracing).
var OTelKeys = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER",
	"OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME"}

// OTelEnv returns the OTelKeys that getenv sets, as KEY=value entries, so a local system's
// services trace when the runner's environment asks for it.
func OTelEnv(getenv func(string) string) []string {
	var env []string
	for _, k := range OTelKeys {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Getenv returns a lookup over env entries (KEY=value) for config.Load, so an in-process
// service reads exactly what a process would get, and nothing else from this process.
func Getenv(env []string) func(string) string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// Provision declares the streams and buckets on the server at nc.
func Provision(ctx context.Context, nc *nats.Conn, replicas int) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := streams.Provision(ctx, js, streams.Declared(streams.Options{Replicas: replicas})); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}

// Seed loads the tenants file (LoadTenants) and writes the tenants into the tenants bucket
// (SeedTenants). It returns the tenants as seeded.
func Seed(ctx context.Context, nc *nats.Conn, file string) ([]*fd.Tenant, error) {
	ts, err := LoadTenants(file)
	if err != nil {
		return nil, err
	}
	return ts, SeedTenants(ctx, nc, ts)
}

// LoadTenants loads the tenants file and resolves relative knowledge paths against the file's
// directory (the AI bridge may run elsewhere).
func LoadTenants(file string) ([]*fd.Tenant, error) {
	ts, err := tenants.LoadFile(file)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		ts[i] = ResolvePaths(t, dir)
	}
	return ts, nil
}

// SeedTenants writes ts into the tenants bucket; the topology must be provisioned.
func SeedTenants(ctx context.Context, nc *nats.Conn, ts []*fd.Tenant) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		return fmt.Errorf("tenants bucket: %w", err)
	}
	return tenants.Seed(ctx, kv, ts)
}

// ResolvePaths returns a copy of t whose relative knowledge paths are joined to dir.
func ResolvePaths(t *fd.Tenant, dir string) *fd.Tenant {
	t = proto.Clone(t).(*fd.Tenant)
	if kb := t.GetBot().GetKnowledge(); kb != nil {
		for i, p := range kb.Paths {
			if !filepath.IsAbs(p) {
				kb.Paths[i] = filepath.Join(dir, p)
			}
		}
	}
	return t
}

// Secret returns the JWT secret: EnvSecret (or EnvJWTSecret) from getenv when set, else the
// one saved in file, else a new random one saved there (0600) for the next run. created
// reports the last case.
func Secret(getenv func(string) string, file string) (secret string, created bool, err error) {
	for _, k := range []string{EnvSecret, EnvJWTSecret} {
		if s := getenv(k); s != "" {
			return s, false, nil
		}
	}
	b, err := os.ReadFile(file)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	s := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// Keys makes sure file holds a gateway key set, generating one (0600) the first time. created
// reports that case.
func Keys(file string) (created bool, err error) {
	if _, err := os.Stat(file); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	b, err := token.GenerateKeys(nil)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return false, err
	}
	return true, os.WriteFile(file, b, 0o600)
}

// Processes are the four services running as separate processes.
type Processes struct {
	// Procs by service name.
	Procs map[string]*procs.Proc
}

// ProcessOptions configure StartProcesses.
type ProcessOptions struct {
	// BinDir holds the gateway, dispatcher, persister and aibridge binaries.
	BinDir string
	// Output returns the writer of a service's output (nil: discarded).
	Output func(svc string) io.Writer
	// ReadyTimeout bounds each service's readiness (default 60s).
	ReadyTimeout time.Duration
}

// StartProcesses starts every service as a process from opts.BinDir in start order, each
// waiting for the previous one's readiness. On failure what was started is stopped.
func StartProcesses(ctx context.Context, s Settings, opts ProcessOptions) (*Processes, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	ps := &Processes{Procs: map[string]*procs.Proc{}}
	for _, svc := range Names() {
		spec := procs.Spec{
			Name:    svc,
			Bin:     filepath.Join(opts.BinDir, svc),
			Env:     s.Env(svc),
			OpsAddr: s.OpsAddr(svc),
		}
		if opts.Output != nil {
			spec.Output = opts.Output(svc)
		}
		p, err := procs.Start(spec)
		if err != nil {
			ps.Stop(10 * time.Second)
			return nil, err
		}
		ps.Procs[svc] = p
		rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
		err = p.WaitReady(rctx)
		cancel()
		if err != nil {
			ps.Stop(10 * time.Second)
			return nil, err
		}
	}
	return ps, nil
}

// Stop stops the services gracefully, the gateway first (it tells clients to reconnect), then
// the others together, each within timeout.
func (ps *Processes) Stop(timeout time.Duration) error {
	var errs []error
	if p := ps.Procs[Gateway]; p != nil {
		errs = append(errs, p.Stop(timeout))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range ps.Procs {
		if name == Gateway {
			continue
		}
		wg.Go(func() {
			err := p.Stop(timeout)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
