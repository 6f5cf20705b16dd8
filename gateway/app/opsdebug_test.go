package app_test

import (
	"net/http"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
)

// TestDebugEndpointsOffByDefault: the gateway's forced GC and pprof answer 404 on the ops port
// unless ops.debug is on (FRONTDESK_OPS_DEBUG=true, as make run and the load runs set it).
func TestDebugEndpointsOffByDefault(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	call := func(g *apptest.Gateway, method, path string) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+g.OpsAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		debug     bool
		gc, pprof int
		metrics   int
	}{
		{debug: false, gc: http.StatusNotFound, pprof: http.StatusNotFound, metrics: http.StatusOK},
		{debug: true, gc: http.StatusNoContent, pprof: http.StatusOK, metrics: http.StatusOK},
	}
	for _, tt := range tests {
		g := e.Gateway(func(c *app.Config) { c.Ops.Debug = tt.debug })
		if got := call(g, http.MethodPost, "/debug/gc"); got != tt.gc {
			t.Errorf("debug=%v: POST /debug/gc = %d, want %d", tt.debug, got, tt.gc)
		}
		if got := call(g, http.MethodGet, "/debug/pprof/heap"); got != tt.pprof {
			t.Errorf("debug=%v: GET /debug/pprof/heap = %d, want %d", tt.debug, got, tt.pprof)
		}
		if got := call(g, http.MethodGet, "/metrics"); got != tt.metrics {
			t.Errorf("debug=%v: GET /metrics = %d, want %d", tt.debug, got, tt.metrics)
		}
	}
}
