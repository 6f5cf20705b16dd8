package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/ops"
)

type testConfig struct {
	config.Base `mapstructure:",squash"`
	Greeting    string `mapstructure:"greeting"`
	Token       string `mapstructure:"token" secret:"true"`
}

func (c testConfig) Validate() error {
	if c.Greeting == "" {
		return &config.FieldError{Key: "greeting", Msg: "must not be empty"}
	}
	return c.Base.Validate()
}

func TestExecute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("greeting: from-file\ntoken: hush\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantRan   string
		wantGreet string
		wantOut   string
		wantErr   string
	}{
		{name: "version", args: []string{"svc", "--version"}, wantOut: "svc dev"},
		{name: "file", args: []string{"svc", "-config", file}, wantRan: "run", wantGreet: "from-file"},
		{name: "env overrides file", args: []string{"svc", "-config", file}, env: map[string]string{"FRONTDESK_GREETING": "from-env"},
			wantRan: "run", wantGreet: "from-env"},
		{name: "subcommand", args: []string{"svc", "migrate", "-config", file}, wantRan: "migrate", wantGreet: "from-file"},
		{name: "bad value names the key", args: []string{"svc"}, env: map[string]string{"FRONTDESK_LOG_LEVEL": "loud"},
			wantErr: "log.level"},
		{name: "bad flag", args: []string{"svc", "-nope"}, wantErr: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ran, greet, service string
			var logs, out bytes.Buffer
			record := func(name string) func(context.Context, testConfig, *zap.Logger) error {
				return func(ctx context.Context, c testConfig, _ *zap.Logger) error {
					ran, greet, service = name, c.Greeting, ops.ServiceFrom(ctx)
					return nil
				}
			}
			s := Service[testConfig]{
				Name:     "svc",
				Defaults: func() testConfig { return testConfig{Base: config.DefaultBase(), Greeting: "default"} },
				Run:      record("run"),
				Commands: map[string]func(context.Context, testConfig, *zap.Logger) error{"migrate": record("migrate")},
				Logger:   &logs,
			}
			err := s.Execute(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ran != tt.wantRan || greet != tt.wantGreet {
				t.Fatalf("ran %q with greeting %q, want %q with %q", ran, greet, tt.wantRan, tt.wantGreet)
			}
			// The ops server exports frontdesk_build_info for the service its context names.
			if tt.wantRan != "" && service != "svc" {
				t.Fatalf("run's context names service %q, want svc", service)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("stdout %q, want %q", out.String(), tt.wantOut)
			}
			if strings.Contains(logs.String(), "hush") {
				t.Fatalf("secret logged: %s", logs.String())
			}
		})
	}
}

func TestRunErrorReturned(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := Service[testConfig]{Name: "svc", Logger: &bytes.Buffer{},
		Defaults: func() testConfig { return testConfig{Base: config.DefaultBase(), Greeting: "x"} },
		Run:      func(context.Context, testConfig, *zap.Logger) error { return boom }}
	if err := s.Execute(context.Background(), []string{"svc"}, func(string) string { return "" }, &bytes.Buffer{}); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

// TestBuildInfoExported: a service run through Execute exports frontdesk_build_info under its
// own name from the ops server it starts, without passing the name itself.
func TestBuildInfoExported(t *testing.T) {
	t.Parallel()
	var metrics string
	s := Service[testConfig]{Name: "svc", Logger: &bytes.Buffer{},
		Defaults: func() testConfig { return testConfig{Base: config.DefaultBase(), Greeting: "x"} },
		Run: func(ctx context.Context, _ testConfig, log *zap.Logger) error {
			srv := ops.New("127.0.0.1:0", log, ops.NewRegistry())
			if err := srv.Start(ctx); err != nil {
				return err
			}
			defer func() { _ = srv.Shutdown(context.Background()) }()
			resp, err := http.Get("http://" + srv.Addr() + "/metrics")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			metrics = string(b)
			return err
		}}
	if err := s.Execute(t.Context(), []string{"svc"}, func(string) string { return "" }, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`frontdesk_build_info{commit=%q,go_version=%q,service="svc",version=%q} 1`,
		buildinfo.Commit, runtime.Version(), buildinfo.Version)
	if !strings.Contains(metrics, want) {
		t.Fatalf("/metrics lacks %s:\n%s", want, metrics)
	}
}
