package ops_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestBuildInfo: a server started under a context naming its service exports
// frontdesk_build_info with value 1 and the build's labels; one started without a name
// exports none (no series with an empty service label).
func TestBuildInfo(t *testing.T) {
	t.Parallel()
	want := fmt.Sprintf(`frontdesk_build_info{commit=%q,go_version=%q,service="dispatcher",version=%q} 1`,
		buildinfo.Commit, runtime.Version(), buildinfo.Version)
	tests := []struct {
		name    string
		service string
		want    bool
	}{
		{name: "named", service: "dispatcher", want: true},
		{name: "unnamed", service: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tt.service != "" {
				ctx = ops.WithService(ctx, tt.service)
			}
			if got := ops.ServiceFrom(ctx); got != tt.service {
				t.Fatalf("ServiceFrom = %q, want %q", got, tt.service)
			}
			s := ops.New("127.0.0.1:0", testkit.Logger(t), ops.NewRegistry())
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := s.Shutdown(sctx); err != nil {
					t.Error(err)
				}
			})
			_, body := get(t, "http://"+s.Addr()+"/metrics")
			if got := strings.Contains(body, want); got != tt.want {
				t.Errorf("/metrics has %s: %v, want %v\n%s", want, got, tt.want, body)
			}
			if !tt.want && strings.Contains(body, ops.BuildInfoMetric) {
				t.Errorf("/metrics has %s without a service name", ops.BuildInfoMetric)
			}
			if !strings.Contains(body, "go_goroutines") {
				t.Error("/metrics lost the runtime collectors")
			}
		})
	}
}
