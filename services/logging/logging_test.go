package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/logging"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     config.Log
		wantErr bool
		check   func(t *testing.T, out string)
	}{
		{
			name: "json info drops debug",
			cfg:  config.Log{Level: "info", Format: "json"},
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 1 {
					t.Fatalf("want 1 line, got %q", out)
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				if m["msg"] != "info line" || m["level"] != "info" || m["k"] != "v" {
					t.Fatalf("unexpected entry %v", m)
				}
				if ts, _ := m["time"].(string); !strings.Contains(ts, "T") {
					t.Fatalf("time %q is not ISO8601", m["time"])
				}
			},
		},
		{
			name: "console debug",
			cfg:  config.Log{Level: "debug", Format: "console"},
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "debug line") || !strings.Contains(out, "info line") {
					t.Fatalf("missing lines in %q", out)
				}
			},
		},
		{name: "bad level", cfg: config.Log{Level: "loud"}, wantErr: true},
		{name: "bad format", cfg: config.Log{Format: "xml"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := logging.NewTo(tt.cfg, &buf)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("debug line")
			log.Info("info line", zap.String("k", "v"))
			_ = log.Sync()
			tt.check(t, buf.String())
		})
	}
}
