package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

// A subcommand with positional arguments gets them in order, wherever the flags are, and
// still reads its configuration from -config.
func TestArgCommands(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("greeting: from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"flags first", []string{"svc", "erase", "-config", file, "acme", "cust-1", "ops"}, []string{"acme", "cust-1", "ops"}},
		{"flags between", []string{"svc", "erase", "acme", "--config", file, "cust-1", "ops"}, []string{"acme", "cust-1", "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			var greet string
			s := Service[testConfig]{
				Name:     "svc",
				Defaults: func() testConfig { return testConfig{Base: config.DefaultBase()} },
				Run:      func(context.Context, testConfig, *zap.Logger) error { t.Error("run called"); return nil },
				ArgCommands: map[string]func(context.Context, testConfig, *zap.Logger, []string) error{
					"erase": func(_ context.Context, c testConfig, _ *zap.Logger, args []string) error {
						got, greet = args, c.Greeting
						return nil
					}},
				Logger: &bytes.Buffer{},
			}
			if err := s.Execute(context.Background(), tt.args, func(string) string { return "" }, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || greet != "from-file" {
				t.Fatalf("args %q greeting %q, want %q from-file", got, greet, tt.want)
			}
		})
	}
}
