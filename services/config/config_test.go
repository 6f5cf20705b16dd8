package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

// gatewaySettings and serviceConfig are shaped like a real service's config.
type gatewaySettings struct {
	Listen  string        `mapstructure:"listen"`
	Origins []string      `mapstructure:"origins"`
	Idle    time.Duration `mapstructure:"idle"`
	Token   string        `mapstructure:"token" secret:"true"`
}

type serviceConfig struct {
	config.Base `mapstructure:",squash"`
	Database    config.Database `mapstructure:"database"`
	Gateway     gatewaySettings `mapstructure:"gateway"`
}

func (c serviceConfig) Validate() error {
	return errors.Join(
		c.Base.Validate(),
		c.Database.Check("database"),
		config.Required("gateway.listen", c.Gateway.Listen),
	)
}

func defaults() serviceConfig {
	db := config.DefaultDatabase()
	db.URL = "postgres://fd@127.0.0.1:5432/fd"
	return serviceConfig{
		Base:     config.DefaultBase(),
		Database: db,
		Gateway:  gatewaySettings{Listen: ":8080", Idle: time.Minute},
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string // YAML; "" means no file
		env     map[string]string
		wantErr string // substring; "" means success
		check   func(t *testing.T, c serviceConfig)
	}{
		{
			name: "defaults only",
			check: func(t *testing.T, c serviceConfig) {
				if !reflect.DeepEqual(c, defaults()) {
					t.Fatalf("got %+v, want defaults", c)
				}
			},
		},
		{
			name: "file overrides defaults and keeps the rest",
			file: "nats:\n  url: nats://nats-1:4222\n  replicas: 3\ngateway:\n  origins: [https://a.example, https://b.example]\n  idle: 90s\n",
			check: func(t *testing.T, c serviceConfig) {
				if c.NATS.URL != "nats://nats-1:4222" || c.NATS.Replicas != 3 {
					t.Errorf("nats = %+v", c.NATS)
				}
				if c.NATS.MaxReconnects != -1 || c.Log.Level != "info" || c.Gateway.Listen != ":8080" {
					t.Errorf("defaults lost: %+v", c)
				}
				if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(c.Gateway.Origins, want) {
					t.Errorf("origins = %v", c.Gateway.Origins)
				}
				if c.Gateway.Idle != 90*time.Second {
					t.Errorf("idle = %s", c.Gateway.Idle)
				}
			},
		},
		{
			name: "env overrides file",
			file: "nats:\n  url: nats://from-file:4222\ngateway:\n  listen: :1111\n",
			env: map[string]string{
				"FRONTDESK_NATS_URL":         "nats://from-env:4222",
				"FRONTDESK_GATEWAY_LISTEN":   ":2222",
				"FRONTDESK_DATABASE_URL":     "postgres://u:p@db:5432/x",
				"FRONTDESK_SHUTDOWN_TIMEOUT": "5s",
				"FRONTDESK_GATEWAY_ORIGINS":  "https://x.example,https://y.example",
				"FRONTDESK_NATS_REPLICAS":    "3",
				"FRONTDESK_NATS_TLS_CA":      "/etc/ca.pem",
			},
			check: func(t *testing.T, c serviceConfig) {
				if c.NATS.URL != "nats://from-env:4222" || c.Gateway.Listen != ":2222" {
					t.Errorf("env did not override the file: %+v", c)
				}
				if c.Database.URL != "postgres://u:p@db:5432/x" || c.Shutdown.Timeout != 5*time.Second || c.NATS.Replicas != 3 {
					t.Errorf("env-only keys not applied: %+v", c)
				}
				if c.NATS.TLS.CA != "/etc/ca.pem" {
					t.Errorf("nested env key not applied: %+v", c.NATS.TLS)
				}
				if want := []string{"https://x.example", "https://y.example"}; !reflect.DeepEqual(c.Gateway.Origins, want) {
					t.Errorf("origins = %v", c.Gateway.Origins)
				}
			},
		},
		{name: "bad value fails validation naming the key", file: "nats:\n  replicas: 9\n", wantErr: "config nats.replicas: 9 is not between 1 and 5"},
		{name: "bad env value fails naming the key", env: map[string]string{"FRONTDESK_LOG_LEVEL": "loud"}, wantErr: "config log.level:"},
		{name: "unparsable duration names the key", file: "shutdown:\n  timeout: soon\n", wantErr: "config shutdown.timeout:"},
		{name: "unparsable int names the key", env: map[string]string{"FRONTDESK_NATS_REPLICAS": "three"}, wantErr: "config nats.replicas:"},
		{name: "unknown key in file", file: "nats:\n  urll: nats://x:4222\n", wantErr: "config nats.urll: unknown key"},
		{name: "unknown section in file", file: "gatway:\n  listen: :1\n", wantErr: "config gatway"},
		{name: "bad nats url", env: map[string]string{"FRONTDESK_NATS_URL": "http://x:4222"}, wantErr: "config nats.url:"},
		{name: "zero shutdown timeout", file: "shutdown:\n  timeout: 0s\n", wantErr: "config shutdown.timeout:"},
		{name: "service validation", file: "gateway:\n  listen: \"\"\n", wantErr: "config gateway.listen: is required"},
		{name: "database url required", env: map[string]string{"FRONTDESK_DATABASE_URL": "mysql://x"}, wantErr: "config database.url: must be a postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := ""
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			c := defaults()
			err := config.Load(file, envOf(tt.env), &c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	c := defaults()
	if err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, &c); err == nil {
		t.Error("missing file: want error")
	}
	if err := config.Load("", nil, c); err == nil {
		t.Error("non-pointer: want error")
	}
	var fe *config.FieldError
	err := config.Load(writeFile(t, "ops:\n  adr: :1\n"), nil, &c)
	if !errors.As(err, &fe) || fe.Key != "ops.adr" {
		t.Errorf("err = %v, want a FieldError for ops.adr", err)
	}
}

func TestEnvVar(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"nats.url":           "FRONTDESK_NATS_URL",
		"gateway.listen":     "FRONTDESK_GATEWAY_LISTEN",
		"nats.tls.ca":        "FRONTDESK_NATS_TLS_CA",
		"database.max-conns": "FRONTDESK_DATABASE_MAX_CONNS",
		"shutdown.timeout":   "FRONTDESK_SHUTDOWN_TIMEOUT",
	} {
		if got := config.EnvVar(key); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestRedactURL: every credential a NATS or Postgres URL or connection string can carry is
// masked, and what identifies the server stays readable.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, secret string
	}{
		{"postgres user and password", "postgres://fd:s3cret@db:5432/fd?sslmode=require",
			"postgres://fd:***@db:5432/fd?sslmode=require", "s3cret"},
		{"postgresql scheme, escaped characters", "postgresql://fd:p%40ss%2Fw@db/fd",
			"postgresql://fd:***@db/fd", "p%40ss"},
		{"unescaped @ in the password", "postgres://fd:p@ss@db/fd", "postgres://fd:***@db/fd", "ss@db"},
		{"empty user", "postgres://:s3cret@db/fd", "postgres://:***@db/fd", "s3cret"},
		{"password in the query", "postgres://fd@db/fd?sslmode=require&password=s3cret",
			"postgres://fd@db/fd?sslmode=require&password=***", "s3cret"},
		{"password first in the query", "postgres://db/fd?password=s3cret&user=fd",
			"postgres://db/fd?password=***&user=fd", "s3cret"},
		{"sslpassword in the query", "postgres://fd@db/fd?sslpassword=k3y&sslmode=verify-full",
			"postgres://fd@db/fd?sslpassword=***&sslmode=verify-full", "k3y"},
		{"keyword form", "host=db port=5432 user=fd password=s3cret dbname=fd",
			"host=db port=5432 user=fd password=*** dbname=fd", "s3cret"},
		{"keyword form, first", "password=s3cret host=db", "password=*** host=db", "s3cret"},
		{"keyword form, quoted with spaces", "host=db password='s3 cr\\'et' user=fd",
			"host=db password=*** user=fd", "cr"},
		{"keyword form, spaces around =", "host=db password = s3cret user=fd", "host=db password = *** user=fd", "s3cret"},
		{"keyword form, upper case", "host=db PASSWORD=s3cret", "host=db PASSWORD=***", "s3cret"},
		{"nats user and password", "nats://app:hunter2@n1:4222", "nats://app:***@n1:4222", "hunter2"},
		{"nats token", "nats://t0ken-xyz@n1:4222", "nats://***@n1:4222", "t0ken-xyz"},
		{"tls token", "tls://t0ken-xyz@n1:4222", "tls://***@n1:4222", "t0ken-xyz"},
		{"websocket token", "wss://t0ken-xyz@n1:443", "wss://***@n1:443", "t0ken-xyz"},
		{"nats cluster list", "nats://t0ken-xyz@n1:4222,nats://app:hunter2@n2:4222,nats://n3:4222",
			"nats://***@n1:4222,nats://app:***@n2:4222,nats://n3:4222", "hunter2"},
		{"nats token in the query", "nats://n1:4222?token=t0ken-xyz", "nats://n1:4222?token=***", "t0ken-xyz"},
		{"no credentials", "nats://n1:4222", "nats://n1:4222", ""},
		{"postgres role only", "postgres://fd@db/fd", "postgres://fd@db/fd", ""},
		{"already redacted", "nats://***@n1:4222,postgres://fd:***@db/fd", "nats://***@n1:4222,postgres://fd:***@db/fd", ""},
	}
	for _, tt := range tests {
		got := config.RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("%s: RedactURL(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
		if tt.secret != "" && strings.Contains(got, tt.secret) {
			t.Errorf("%s: %q leaks %q", tt.name, got, tt.secret)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	c := defaults()
	c.Database.URL = "postgres://fd:s3cret@db:5432/fd"
	c.NATS.URL = "nats://app:hunter2@n1:4222,nats://app:hunter2@n2:4222"
	c.Gateway.Token = "tok-value-xyz"
	c.Gateway.Origins = []string{"https://u:pw@origin.example"}
	r := config.Redacted(&c)

	all := stringify(r)
	for _, secret := range []string{"s3cret", "hunter2", "tok-value-xyz", "pw@"} {
		if strings.Contains(all, secret) {
			t.Errorf("redacted config leaks %q: %s", secret, all)
		}
	}
	db := r["database"].(map[string]any)
	if db["url"] != "***" {
		t.Errorf("database.url = %v, want ***", db["url"])
	}
	nats := r["nats"].(map[string]any)
	if nats["url"] != "nats://app:***@n1:4222,nats://app:***@n2:4222" {
		t.Errorf("nats.url = %v", nats["url"])
	}
	if nats["replicas"] != 1 || r["shutdown"].(map[string]any)["timeout"] != "25s" {
		t.Errorf("plain values changed: %v", r)
	}
	if _, ok := r["gateway"].(map[string]any)["listen"]; !ok {
		t.Errorf("gateway section missing: %v", r)
	}

	// An empty secret stays empty, so the log shows it is unset.
	c.Database.URL = ""
	if got := config.Redacted(c)["database"].(map[string]any)["url"]; got != "" {
		t.Errorf("empty secret = %v, want empty", got)
	}
}

func stringify(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				b.WriteString(k + "=")
				walk(e)
				b.WriteString(" ")
			}
		case []any:
			for _, e := range x {
				walk(e)
				b.WriteString(",")
			}
		case string:
			b.WriteString(x)
		}
	}
	walk(v)
	return b.String()
}

func TestFlagFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr error
		errText string
	}{
		{name: "none", args: []string{"gateway"}},
		{name: "empty args", args: nil},
		{name: "single dash", args: []string{"gateway", "-config", "/etc/fd.yaml"}, want: "/etc/fd.yaml"},
		{name: "double dash equals", args: []string{"gateway", "--config=fd.yaml"}, want: "fd.yaml"},
		{name: "without program name", args: []string{"--config", "fd.yaml"}, want: "fd.yaml"},
		{name: "version", args: []string{"gateway", "--version"}, wantErr: config.ErrVersion},
		{name: "unknown flag", args: []string{"gateway", "--nope"}, errText: "nope"},
		{name: "help", args: []string{"gateway", "-h"}, errText: "-config"},
		{name: "stray argument", args: []string{"gateway", "extra"}, errText: "extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.FlagFile(tt.args)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errText)
				}
			default:
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
			}
		})
	}
}
