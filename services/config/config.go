// Package config loads a service's configuration: defaults set in code, then a YAML file, then
// FRONTDESK_* environment variables, decoded into a typed struct and validated before anything
// connects.
//
// A service declares its own struct, embeds Base and adds its section:
//
//	type Config struct {
//		config.Base `mapstructure:",squash"`
//		Gateway     GatewaySettings `mapstructure:"gateway"`
//	}
//
//	cfg := Config{Base: config.DefaultBase(), Gateway: defaultGateway()}
//	if err := config.Load(file, getenv, &cfg); err != nil { ... }
//
// Keys are the mapstructure names joined with dots ("nats.url", "gateway.listen"); the
// environment variable of a key is FRONTDESK_ followed by the key in upper case with dots and
// dashes turned into underscores (FRONTDESK_NATS_URL, FRONTDESK_GATEWAY_LISTEN).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/nats-io/nats.go"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of every environment variable that overrides a config key.
const EnvPrefix = "FRONTDESK_"

// Log configures logging.
type Log struct {
	// Level is the minimum level logged: debug, info (default), warn or error.
	Level string `mapstructure:"level"`
	// Format is json (default, for production) or console (human-readable, for development).
	Format string `mapstructure:"format"`
}

// TLS names the PEM files of a TLS client configuration. Empty fields are not used.
type TLS struct {
	// CA is the CA bundle that signs the server's certificate.
	CA string `mapstructure:"ca"`
	// Cert is the client certificate, for mutual TLS (with Key).
	Cert string `mapstructure:"cert"`
	// Key is the client certificate's private key file.
	Key string `mapstructure:"key"`
}

// NATS configures the connection to NATS and the replication of what a service provisions.
type NATS struct {
	// URL is one server URL or a comma-separated list (default nats://127.0.0.1:4222).
	URL string `mapstructure:"url"`
	// Name is the connection name shown in server monitoring (default: the service name).
	Name string `mapstructure:"name"`
	// Creds is the path of a .creds file (user JWT and NKey seed); empty means no credentials.
	Creds string `mapstructure:"creds"`
	// TLS configures TLS to the servers; used when any of its files is set.
	TLS TLS `mapstructure:"tls"`
	// Replicas is the replica count of provisioned streams and buckets, 1 to 5 (default 1;
	// 3 in production).
	Replicas int `mapstructure:"replicas"`
	// StorageBytes is the JetStream storage (per replica) the provisioned streams, buckets and
	// the attachment store may use together; each gets its share (services/streams.Shares).
	// 0: the development default (768 MiB). Only the provisioning step reads it.
	StorageBytes int64 `mapstructure:"storage_bytes"`
	// ConnectTimeout bounds one connection attempt (default 5s).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// ReconnectWait is the base delay between reconnect rounds; the delay backs off and is
	// jittered from there (default 2s).
	ReconnectWait time.Duration `mapstructure:"reconnect_wait"`
	// MaxReconnects is the number of reconnect rounds before giving up; -1 (default) retries
	// forever, which is what a service wants: readiness reports the outage meanwhile.
	MaxReconnects int `mapstructure:"max_reconnects"`
	// InProcess, when set, connects through this provider (an embedded nats-server in the same
	// process) instead of dialing URL: no loopback TCP, no syscalls per message. It is never
	// read from the environment; only a runner that embeds the server sets it (the one-process
	// local runner). URL must still be set (nats.go keeps it as the server pool), and Creds
	// still apply: the embedded server authenticates and authorizes the connection as it would
	// a TCP one. Reconnects ask the provider again, so it must survive a server restart.
	InProcess nats.InProcessConnProvider `mapstructure:"-"`
}

// Ops configures the ops HTTP server (/healthz, /readyz, /metrics).
type Ops struct {
	// Addr is the listen address (default ":9090"); ":0" picks a free port.
	Addr string `mapstructure:"addr"`
	// Debug serves the debug endpoints on the ops port (default false): pprof profiles and
	// traces, and the gateway's forced GC. They are unauthenticated and costly (a CPU profile
	// or a GC stalls the process), so they are off unless an operator or a load run turns them
	// on (FRONTDESK_OPS_DEBUG=true).
	Debug bool `mapstructure:"debug"`
}

// Database configures a Postgres connection pool. It is not part of Base because only some
// services use Postgres; those add a field Database config.Database with tag mapstructure:"database".
type Database struct {
	// URL is the Postgres connection URL (postgres://user:pass@host:5432/db?sslmode=...).
	// It is a secret: Redacted hides it.
	URL string `mapstructure:"url" secret:"true"`
	// MaxConns bounds the pool (default 10).
	MaxConns int32 `mapstructure:"max_conns"`
	// MinConns is the number of connections kept open when idle (default 0).
	MinConns int32 `mapstructure:"min_conns"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// Timeout bounds the whole shutdown (default 25s). Keep it below the orchestrator's grace
	// period (Kubernetes: 30s) so the process exits on its own terms.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Tenants configures tenant settings.
type Tenants struct {
	// File is the tenants YAML seed file; empty means the service does not seed the tenants
	// bucket (usually only one service, or an init job, seeds it).
	File string `mapstructure:"file"`
}

// Base is the configuration every service shares. Embed it with `mapstructure:",squash"` so
// its sections are top-level keys (log, nats, ops, shutdown, tenants).
type Base struct {
	// Log configures logging.
	Log Log `mapstructure:"log"`
	// NATS configures the NATS connection.
	NATS NATS `mapstructure:"nats"`
	// Ops configures the ops HTTP server.
	Ops Ops `mapstructure:"ops"`
	// Shutdown configures graceful shutdown.
	Shutdown Shutdown `mapstructure:"shutdown"`
	// Tenants configures the tenants seed file.
	Tenants Tenants `mapstructure:"tenants"`
	// Tracing comes from the standard OTEL_* variables, not the file (see Tracing).
	Tracing Tracing `mapstructure:"-"`
}

// Default values of the common sections.
const (
	DefaultNATSURL         = "nats://127.0.0.1:4222"
	DefaultOpsAddr         = ":9090"
	DefaultShutdownTimeout = 25 * time.Second
)

// DefaultBase returns Base filled with the defaults documented on each field.
func DefaultBase() Base {
	return Base{
		Log: Log{Level: "info", Format: "json"},
		NATS: NATS{
			URL:            DefaultNATSURL,
			Replicas:       1,
			ConnectTimeout: 5 * time.Second,
			ReconnectWait:  2 * time.Second,
			MaxReconnects:  -1,
		},
		Ops:      Ops{Addr: DefaultOpsAddr},
		Shutdown: Shutdown{Timeout: DefaultShutdownTimeout},
	}
}

// DefaultDatabase returns Database with its defaults (no URL: a service that needs one
// requires it in Check).
func DefaultDatabase() Database {
	return Database{MaxConns: 10}
}

// LogConfig returns the log section; services that embed Base get it promoted, which lets
// shared code (the cli package) build the logger without knowing the service's config type.
func (b Base) LogConfig() Log { return b.Log }

// Validate checks the common sections; a service's own Validate calls it first. Keys in the
// errors assume Base is squashed into the top level.
func (b Base) Validate() error {
	return errors.Join(
		b.Log.Check("log"),
		b.NATS.Check("nats"),
		b.Ops.Check("ops"),
		b.Shutdown.Check("shutdown"),
		b.Tracing.Check(),
	)
}

// Check validates the log section found at key.
func (l Log) Check(key string) error {
	return errors.Join(
		OneOf(key+".level", l.Level, "debug", "info", "warn", "error"),
		OneOf(key+".format", l.Format, "json", "console"),
	)
}

// Check validates the NATS section found at key.
func (n NATS) Check(key string) error {
	errs := []error{
		NATSURL(key+".url", n.URL),
		Between(key+".replicas", n.Replicas, 1, 5),
	}
	if n.StorageBytes < 0 {
		errs = append(errs, &FieldError{Key: key + ".storage_bytes", Msg: "must not be negative"})
	}
	if n.ConnectTimeout < 0 {
		errs = append(errs, &FieldError{Key: key + ".connect_timeout", Msg: "must not be negative"})
	}
	if n.ReconnectWait < 0 {
		errs = append(errs, &FieldError{Key: key + ".reconnect_wait", Msg: "must not be negative"})
	}
	if n.MaxReconnects < -1 {
		errs = append(errs, &FieldError{Key: key + ".max_reconnects", Msg: "must be -1 (forever) or more"})
	}
	if (n.TLS.Cert == "") != (n.TLS.Key == "") {
		errs = append(errs, &FieldError{Key: key + ".tls", Msg: "cert and key must be set together"})
	}
	return errors.Join(errs...)
}

// Check validates the ops section found at key.
func (o Ops) Check(key string) error {
	return Required(key+".addr", o.Addr)
}

// Check validates the shutdown section found at key.
func (s Shutdown) Check(key string) error {
	return PositiveDuration(key+".timeout", s.Timeout)
}

// Check validates the database section found at key: the URL is required and must be a
// postgres URL, and the pool bounds must be consistent.
func (d Database) Check(key string) error {
	var errs []error
	if err := Required(key+".url", d.URL); err != nil {
		errs = append(errs, err)
	} else if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parse error would echo the URL and its password, so it is not included.
		errs = append(errs, &FieldError{Key: key + ".url", Msg: "must be a postgres:// URL"})
	}
	if d.MaxConns < 0 {
		errs = append(errs, &FieldError{Key: key + ".max_conns", Msg: "must not be negative"})
	}
	if d.MinConns < 0 || (d.MaxConns > 0 && d.MinConns > d.MaxConns) {
		errs = append(errs, &FieldError{Key: key + ".min_conns", Msg: "must be between 0 and max_conns"})
	}
	return errors.Join(errs...)
}

// FieldError is a configuration error about one key, named as in the config file.
type FieldError struct {
	// Key is the dotted config key, e.g. "nats.url".
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *FieldError) Error() string { return "config " + e.Key + ": " + e.Msg }

// Required fails when value is empty.
func Required(key, value string) error {
	if strings.TrimSpace(value) == "" {
		return &FieldError{Key: key, Msg: "is required"}
	}
	return nil
}

// OneOf fails unless value is one of allowed.
func OneOf(key, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return &FieldError{Key: key, Msg: fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", "))}
}

// Between fails unless lo <= value <= hi.
func Between(key string, value, lo, hi int) error {
	if value < lo || value > hi {
		return &FieldError{Key: key, Msg: fmt.Sprintf("%d is not between %d and %d", value, lo, hi)}
	}
	return nil
}

// PositiveDuration fails unless d > 0.
func PositiveDuration(key string, d time.Duration) error {
	if d <= 0 {
		return &FieldError{Key: key, Msg: fmt.Sprintf("%s must be positive", d)}
	}
	return nil
}

// NATSURL fails unless value is a comma-separated list of nats://, tls://, ws:// or wss://
// URLs with a host.
func NATSURL(key, value string) error {
	if err := Required(key, value); err != nil {
		return err
	}
	for _, s := range strings.Split(value, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return &FieldError{Key: key, Msg: "is not a URL"}
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return &FieldError{Key: key, Msg: fmt.Sprintf("scheme %q is not nats, tls, ws or wss", u.Scheme)}
		}
		if u.Host == "" {
			return &FieldError{Key: key, Msg: "has no host"}
		}
	}
	return nil
}

// Load fills out, a pointer to a struct already holding the defaults, from file (YAML; "" for
// none) and then from the environment read through getenv (nil: no environment). An empty
// environment variable counts as unset. A key in the file that out does not declare is an
// error, so are values that do not decode; both name the key. If out has a Validate() error
// method it is called last.
func Load(file string, getenv func(string) string, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a pointer to a struct, got %T", out)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}

	// A local viper: two services (or two tests) in one process must not share settings.
	v := viper.New()
	known := map[string]bool{} // leaf keys
	var maps []string          // keys of map-typed fields, whose sub-keys are free
	walk("", rv.Elem(), func(key string, f reflect.StructField, val reflect.Value) {
		known[key] = true
		if val.Kind() == reflect.Map {
			maps = append(maps, key)
		}
		// Registering every key as a default is what makes Unmarshal see env-only keys and
		// keeps the values the caller put in out.
		v.SetDefault(key, val.Interface())
	})

	if file != "" {
		v.SetConfigFile(file)
		switch strings.ToLower(filepath.Ext(file)) {
		case ".yaml", ".yml", ".json", ".toml":
		default:
			v.SetConfigType("yaml")
		}
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config: read %s: %w", file, err)
		}
		for _, k := range v.AllKeys() {
			if !knownKey(k, known, maps) {
				return &FieldError{Key: k, Msg: "unknown key in " + file}
			}
		}
	}

	for key := range known {
		if val := getenv(EnvVar(key)); val != "" {
			v.Set(key, val)
		}
	}

	err := v.Unmarshal(out, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.Squash = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		)
	})
	if err != nil {
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			return &FieldError{Key: de.Name(), Msg: de.Unwrap().Error()}
		}
		return fmt.Errorf("config: %w", err)
	}
	if tt, ok := out.(tracingTarget); ok {
		*tt.tracingSettings() = TracingFromEnv(getenv)
	}
	if val, ok := out.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

// EnvVar is the environment variable that overrides key: "nats.url" -> "FRONTDESK_NATS_URL".
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// knownKey reports whether a key read from the file is declared: a leaf, a section holding
// leaves (e.g. an empty "nats:"), or an entry of a map-typed field.
func knownKey(k string, known map[string]bool, maps []string) bool {
	if known[k] {
		return true
	}
	for _, m := range maps {
		if strings.HasPrefix(k, m+".") {
			return true
		}
	}
	for leaf := range known {
		if strings.HasPrefix(leaf, k+".") {
			return true
		}
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// walk calls fn for every leaf field of the struct v with its dotted key, following
// mapstructure's naming: the tag name or the lower-cased field name, "-" skipped, squashed
// (or untagged embedded) structs flattened into their parent.
func walk(prefix string, v reflect.Value, fn func(key string, f reflect.StructField, val reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		squash := strings.Contains(","+opts+",", ",squash,") || (f.Anonymous && name == "")
		if squash && fv.Kind() == reflect.Struct {
			walk(prefix, fv, fn)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[time.Time]() {
			walk(key, fv, fn)
			continue
		}
		fn(key, f, fv)
	}
}

// ErrVersion is returned by FlagFile when --version was given: main prints its version and
// exits 0.
var ErrVersion = errors.New("version requested")

// FlagFile parses the command line for -config/--config (the config file path, "" when
// absent) and --version (ErrVersion). args is os.Args: the first element, the program name,
// is skipped when it does not start with '-'. -h/--help returns an error holding the usage.
func FlagFile(args []string) (string, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	fs := flag.NewFlagSet("frontdesk", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", "", "path of the YAML config `file` (FRONTDESK_* variables override it)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return "", fmt.Errorf("%w\nflags:\n%s", err, b.String())
		}
		return "", fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	if *version {
		return "", ErrVersion
	}
	return *file, nil
}
